"""The recipe scripts: their data flags are options train-reader takes, the CPU recipe resumes
at the first stage without its ``.done`` marker, and the GPU recipe's two ends on this machine
(`prepare` and `land`) hand over what its device run needs and brings back. The scripts run on
the interpreter running the tests (``PY``), and a run that must stop is checked for why it did."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pathspec
import pytest

from qa.train.cli import register

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ("qa/train/cpu_recipe.sh", "qa/train/gpu_recipe.sh", "qa/train/refusal_recipe.sh")


def recipe_flags(data: str, device: str) -> list[str]:
    out = subprocess.run(
        [
            "bash",
            "-c",
            'source qa/train/recipe_data.sh; recipe_flags "$1" "$2"; printf "%s\\n" "${FLAGS[@]}"',
            "-",
            data,
            device,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.splitlines()


@pytest.mark.parametrize("script", RECIPES)
def test_recipe_scripts_parse(script: str) -> None:
    subprocess.run(["bash", "-n", script], cwd=ROOT, check=True)


def test_recipe_data_flags_are_train_reader_options() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    flags = recipe_flags("/data", "cpu")
    args = parser.parse_args(["train-reader", *flags, "--out", "/tmp/x"])
    assert args.data == "/data/squad1-dev-public.json"
    assert args.device == "cpu" and args.bf16 and args.batch == 32
    assert len(args.extra) == 8 and all(e.startswith("/data/train/") for e in args.extra)


def run_cpu_recipe(cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "qa/train/cpu_recipe.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PY": sys.executable,
            "CACHE": str(cache),
            "TEACHER_BASE": str(cache / "none"),
            **env,
        },
        timeout=60,
    )


def test_cpu_recipe_skips_finished_stages(tmp_path: Path) -> None:
    for stage in ("teacher", "student", "artifact", "eval"):
        (tmp_path / f"{stage}.done").write_text("2026-12-01T00:00:00Z\n")
    done = run_cpu_recipe(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "all stages done" in done.stdout


def test_cpu_recipe_stops_at_a_missing_student_base(tmp_path: Path) -> None:
    (tmp_path / "teacher.done").write_text("2026-12-01T00:00:00Z\n")
    out = run_cpu_recipe(tmp_path, STUDENT_BASE=str(tmp_path / "nowhere"))
    assert out.returncode == 2
    assert "is not a model folder" in out.stdout
    assert not (tmp_path / "student.done").exists()


def test_cpu_recipe_distils_into_the_shipped_reader_by_default(tmp_path: Path) -> None:
    """With no STUDENT_BASE the student starts from the shipped reader's recovered weights, so
    a machine without an earlier run's cache can still run the recipe. The teacher is a
    placeholder here, so the run stops right after the recovery, at the first training step."""
    (tmp_path / "teacher.done").write_text("2026-12-01T00:00:00Z\n")
    out = run_cpu_recipe(tmp_path, DATA=str(tmp_path / "no-data"))
    assert out.returncode != 0 and not (tmp_path / "student.done").exists()
    base = tmp_path / "student-base"
    assert (base / "model.safetensors").is_file() and (base / "config.json").is_file()
    # it stopped where the student's training reads its data, not at the recovery
    assert f"student: {base} on the teacher's logits" in out.stdout
    assert f"{tmp_path / 'no-data' / 'squad1-dev-public.json'}: no such file" in out.stderr


@pytest.mark.parametrize(
    ("script", "before"),
    [
        ("cpu_recipe.sh", ("teacher", "student")),
        ("refusal_recipe.sh", ("base", "near-miss", "student")),
    ],
)
def test_recipes_measure_their_artifact_on_the_test_half_the_seeds_and_the_news(
    tmp_path: Path, script: str, before: tuple[str, ...]
) -> None:
    """The eval stage both student recipes share (``measure_artifact``): the artifact, and only
    it, read on the test half three ways and on both news sets; a fake ``qa`` records what it
    was asked."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for stage in (*before, "artifact"):
        (cache / f"{stage}.done").write_text("2026-12-01T00:00:00Z\n")
    fake = tmp_path / "qa"
    fake.write_text('#!/bin/sh\necho "$QA_READER_MODEL" "$@"\n')
    fake.chmod(0o755)
    out = subprocess.run(
        ["bash", f"qa/train/{script}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PY": sys.executable, "QA": str(fake), "CACHE": str(cache)},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert (cache / "eval.done").exists() and "all stages done" in out.stdout
    said = {f.stem: f.read_text() for f in (cache / "eval").glob("*.txt")}
    assert set(said) == {"gold", "open", "ooc", "seeds_dev", "news_nearmiss"}
    assert all(line.startswith(f"{cache / 'artifact'} ") for line in said.values())
    assert "--gold-passage" in said["gold"] and "--out-of-corpus" in said["ooc"]
    assert all(
        "--articles qa/models/reader/split.json:test" in said[h] for h in ("gold", "open", "ooc")
    )
    assert "tests/data/news_nearmiss.jsonl" in said["news_nearmiss"]


def run_gpu_recipe(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "qa/train/gpu_recipe.sh", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PY": sys.executable, "WHEELS": "", **env},
        timeout=240,
    )


def test_gpu_recipe_prepare_splits_the_inputs_into_parts_that_travel(tmp_path: Path) -> None:
    """What `run` unpacks is there, whole, and each part fits beside the working tree in a
    call's 64 MiB."""
    import tarfile

    from support import save_tiny_mpnet
    from transformers import AutoConfig

    from qa.train.transport import unpack

    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    for name in ("squad1-dev-public.json", "squad2-dev-public.json", "train/extra.json"):
        (data / name).write_text('{"data": []}')
    base = save_tiny_mpnet(tmp_path / "mpnet", qa_head=False)
    xfer, work = tmp_path / "xfer", tmp_path / "work"
    out = run_gpu_recipe(
        "prepare", DATA=str(data), TEACHER_BASE=str(base), XFER=str(xfer), WORK=str(work)
    )
    assert out.returncode == 0, out.stderr
    travels = travelling_bytes(ROOT)
    parts = sorted(xfer.iterdir())
    assert parts and [p.name for p in parts] == [str(k) for k in range(1, len(parts) + 1)]
    for part in parts:
        assert travels + sum(f.stat().st_size for f in part.rglob("*") if f.is_file()) < 64 << 20
    # `run` reads the parts merged, as `stash` leaves them
    merged = tmp_path / "stash"
    for part in parts:
        shutil.copytree(part, merged, dirs_exist_ok=True)
    mpnet = expanded(merged / "mpnet", tmp_path / "packed-mpnet")
    teacher = unpack([mpnet], tmp_path / "teacher")
    assert AutoConfig.from_pretrained(teacher).model_type == "mpnet"
    # the student travels as the shipped reader, in the working tree, and is recovered there
    assert not (merged / "student").exists()
    with tarfile.open(merged / "data.tar.xz") as tar:
        names = set(tar.getnames())
    assert {"squad1-dev-public.json", "squad2-dev-public.json", "train/extra.json"} <= names


def travelling_bytes(root: Path) -> int:
    """The size of what a device call carries whatever else it is given: every file of the tree
    that .gitignore does not name (read here without git, which a source archive lacks)."""
    ignored = pathspec.GitIgnoreSpec.from_lines((root / ".gitignore").read_text().splitlines())
    total = 0
    for top, dirs, files in os.walk(root):
        rel = Path(top).relative_to(root)
        dirs[:] = [d for d in dirs if d != ".git" and not ignored.match_file(f"{rel / d}/")]
        kept = [f for f in files if not ignored.match_file(rel / f)]
        total += sum((Path(top) / f).stat().st_size for f in kept)
    return total


def expanded(source: Path, dest: Path) -> Path:
    """The files of ``source`` in ``dest``, ``.xz`` ones expanded, as `run` lays them out."""
    import lzma

    dest.mkdir()
    for f in source.iterdir():
        if f.suffix == ".xz":
            (dest / f.stem).write_bytes(lzma.decompress(f.read_bytes()))
        else:
            (dest / f.name).write_bytes(f.read_bytes())
    return dest


def test_gpu_recipe_land_hands_the_student_to_the_cpu_recipe(tmp_path: Path) -> None:
    """The fetched fp16 parts and run archive become `student/final`; the CPU recipe exports it
    (and then stops here, where there is no data to calibrate on)."""
    import tarfile

    import torch
    from safetensors.torch import load_file, save_file
    from support import save_tiny_bert

    model = save_tiny_bert(tmp_path / "distilled" / "final", qa_head=True)
    weights = load_file(model / "model.safetensors")
    fetched = tmp_path / "fetched"
    fetched.mkdir()
    save_file({k: v.half() for k, v in weights.items()}, str(tmp_path / "fp16.safetensors"))
    blob = (tmp_path / "fp16.safetensors").read_bytes()
    third = len(blob) // 3 + 1
    for k in range(3):
        part = fetched / f"student-fp16.safetensors.part{k}"
        part.write_bytes(blob[k * third : (k + 1) * third])
    (model / "model.safetensors").unlink()
    with tarfile.open(fetched / "runs.tar.gz", "w:gz") as tar:
        tar.add(model, arcname="distilled/final")

    cache = tmp_path / "cache"
    out = run_gpu_recipe("land", str(fetched), CACHE=str(cache), DATA=str(tmp_path / "no-data"))
    # it stops at calibration, which needs the SQuAD data, after exporting the student
    assert out.returncode != 0
    assert f"{tmp_path / 'no-data' / 'squad2-dev-public.json'}: no such file" in out.stderr
    assert (cache / "teacher.done").is_file() and (cache / "student.done").is_file()
    landed = load_file(cache / "student" / "final" / "model.safetensors")
    assert all(torch.equal(landed[k], weights[k].half()) for k in weights)
    assert (cache / "artifact" / "model.onnx").is_file()
    assert not (cache / "artifact.done").exists()


def test_gpu_recipe_land_refuses_a_folder_without_results(tmp_path: Path) -> None:
    out = run_gpu_recipe("land", str(tmp_path), CACHE=str(tmp_path / "cache"))
    assert out.returncode == 2 and "runs.tar.gz" in out.stderr
    assert not (tmp_path / "cache" / "student.done").exists()


def test_gpu_recipe_stash_keeps_every_part_carried_so_far(tmp_path: Path) -> None:
    """On the device the parts of earlier calls may still be in the tree or only in the stash;
    either way the stash ends up holding all of them, paths kept."""
    stash = tmp_path / "stash"
    for k, name in ((1, "mpnet/weights.npz.000.xz"), (2, "mpnet/weights.npz.001.xz")):
        xfer = tmp_path / f"call{k}"
        (xfer / str(k) / "mpnet").mkdir(parents=True)
        (xfer / str(k) / name).write_bytes(bytes([k]) * 10)
        out = run_gpu_recipe("stash", XFER=str(xfer), STASH=str(stash))
        assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (stash / "mpnet").iterdir()) == [
        "weights.npz.000.xz",
        "weights.npz.001.xz",
    ]
