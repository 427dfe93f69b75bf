"""Recovering trainable weights from a shipped int8 ONNX reader: every parameter comes back,
within int8 rounding, for both encoder shapes the recipe trains; a graph that does not match its
config is refused before anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from support import CONTEXT, save_tiny_bert, save_tiny_mpnet

from qa.train.cli import main
from qa.train.export import export
from qa.train.recover import RecoveryError, recover


@pytest.mark.parametrize("save", [save_tiny_bert, save_tiny_mpnet], ids=["bert", "mpnet"])
def test_recovered_weights_match_the_exported_ones(save, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    original = save(tmp_path / "fp32", qa_head=True)
    artifact = export(original, tmp_path / "int8")
    recovered = recover(artifact, tmp_path / "recovered")

    before = AutoModelForQuestionAnswering.from_pretrained(original).eval()
    after = AutoModelForQuestionAnswering.from_pretrained(recovered).eval()
    want, got = before.state_dict(), after.state_dict()
    for name, param in before.named_parameters():
        w, r = param.detach().numpy(), got[name].numpy()
        # int8 rounding: at most half a step, and no step is wider than a symmetric per-tensor
        # one; vectors (biases, norms) are not quantised at all
        step = 2 * np.abs(w).max() / 254 if w.ndim > 1 else 0.0
        assert np.abs(w - r).max() <= step / 2 + 1e-6, name
    assert set(want) == set(got)

    tokenizer = AutoTokenizer.from_pretrained(recovered)
    enc = tokenizer("Who ruled Normandy first?", CONTEXT, return_tensors="pt")
    enc = {k: v for k, v in enc.items() if k in tokenizer.model_input_names}
    with torch.inference_mode():
        a, b = before(**enc), after(**enc)
    assert torch.allclose(a.start_logits, b.start_logits, atol=0.05)
    assert torch.allclose(a.end_logits, b.end_logits, atol=0.05)


def test_a_graph_that_does_not_match_its_config_is_refused(tmp_path: Path) -> None:
    artifact = export(save_tiny_bert(tmp_path / "fp32", qa_head=True), tmp_path / "int8")
    config = json.loads((artifact / "config.json").read_text())
    config["num_hidden_layers"] += 1
    (artifact / "config.json").write_text(json.dumps(config))
    with pytest.raises(RecoveryError, match=r"missing .*layer"):
        recover(artifact, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_artifact_without_a_graph_is_refused(tmp_path: Path) -> None:
    original = save_tiny_bert(tmp_path / "fp32", qa_head=True)
    shutil.copytree(original, tmp_path / "no-graph")
    with pytest.raises(RecoveryError, match=r"no model\.onnx"):
        recover(tmp_path / "no-graph", tmp_path / "out")


def test_cli_writes_a_loadable_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qa.read.transformer import TransformerReader
    from qa.types import Passage

    artifact = export(save_tiny_bert(tmp_path / "fp32", qa_head=True), tmp_path / "int8")
    assert main(["recover-reader", "--model", str(artifact), "--out", str(tmp_path / "r")]) == 0
    assert str(tmp_path / "r") in capsys.readouterr().out
    passage = Passage(doc_id="d", chunk_index=0, start=0, end=len(CONTEXT), text=CONTEXT)
    out = TransformerReader(tmp_path / "r").read("Who ruled Normandy first?", [passage])
    assert out.spans and out.spans[0].text == CONTEXT[out.spans[0].start : out.spans[0].end]
