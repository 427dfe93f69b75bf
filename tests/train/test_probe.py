"""The pre-export probe (best-span F1 with the gold paragraph) and where training runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import save_tiny_bert

from qa.train.cli import main
from qa.train.data import Split
from qa.train.probe import probe
from qa.train.tensors import resolve_device


def test_probe_scores_best_spans_of_the_chosen_articles(
    squad_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = squad_files
    model = save_tiny_bert(tmp_path / "tiny", qa_head=True)
    result = probe(model, data, ["Article_0", "Article_1"], device="cpu")
    # three answerable questions per article plus one on the year (the broken offset is dropped)
    assert result.questions == 8
    assert 0.0 <= result.exact <= result.f1 <= 100.0

    split = tmp_path / "split.json"
    Split(13, ["Article_2"], ["Article_0"], ["Article_1"]).save(split)
    args = ["--model", str(model), "--data", str(data), "--split", str(split), "--device", "cpu"]
    assert main(["probe-reader", *args, "--part", "test"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["part"] == "test" and line["questions"] == 4
    with pytest.raises(ValueError, match="no answerable question"):
        probe(model, data, ["Not_an_article"], device="cpu")


def test_device_is_resolved_and_a_missing_gpu_is_a_clear_error() -> None:
    import torch

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no GPU"):
            resolve_device("cuda")


def test_training_tools_do_not_load_the_service() -> None:
    """``python -m qa.train`` runs where only torch and transformers are installed (a borrowed
    GPU), so importing it must not pull in the stores' native libraries."""
    code = (
        "import sys, qa.train.cli, qa.train.trainer, qa.train.distill, qa.train.probe, "
        "qa.train.transport; "
        "print(sorted(m for m in ('faiss', 'flask', 'orjson', 'qa.service') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    from qa import QAService  # still importable from the package root

    assert QAService.__name__ == "QAService"
