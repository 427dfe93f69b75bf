"""The recipe scripts: their data flags are options train-reader takes, and the CPU recipe resumes
at the first stage without its ``.done`` marker."""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

import pytest

from qa.train.cli import register

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ("qa/train/cpu_recipe.sh", "qa/train/gpu_recipe.sh")


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
        env={**os.environ, "CACHE": str(cache), "TEACHER_BASE": str(cache / "none"), **env},
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
