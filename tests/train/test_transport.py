"""Packing a model for a size-limited transfer: parts that join back into a loadable folder whose
weights are close to the original, and refusal of parts that do not belong together."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import save_tiny_bert

from qa.train.cli import main
from qa.train.transport import MANIFEST, pack, unpack


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny"), qa_head=True)


def _weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def test_parts_carried_apart_join_into_a_model_close_to_the_original(
    tiny: Path, tmp_path: Path
) -> None:
    import torch
    from transformers import AutoModelForQuestionAnswering

    packed = tmp_path / "packed"
    paths = pack(tiny, packed, part_bytes=200_000)
    parts = [p for p in paths if p.name.startswith("weights.npz.")]
    assert len(parts) > 2 and all(p.stat().st_size <= 200_000 for p in parts)
    meta = json.loads((packed / MANIFEST).read_text())
    schemes = {name: e["scheme"] for name, e in meta["tensors"].items()}
    assert schemes["bert.embeddings.word_embeddings.weight"] == "int4-group"
    assert schemes["bert.encoder.layer.0.attention.self.query.weight"] == "int8-row"
    assert schemes["bert.encoder.layer.0.attention.self.query.bias"] == "fp16"

    # the parts travel in two batches and are found in either folder
    second = tmp_path / "second"
    second.mkdir()
    for p in parts[1:]:
        p.rename(second / p.name)
    out = unpack([packed, second], tmp_path / "model")

    before, after = _weights(tiny), _weights(out)
    assert before.keys() == after.keys()
    for name, w in before.items():
        assert after[name].dtype == w.dtype and after[name].shape == w.shape
        if np.issubdtype(w.dtype, np.floating):
            step = np.abs(w).max() / (7 if schemes[name] == "int4-group" else 127)
            assert np.abs(after[name] - w).max() <= step / 2 + 1e-3, name
        else:
            assert np.array_equal(after[name], w), name
    model = AutoModelForQuestionAnswering.from_pretrained(out)  # config and tokenizer came along
    assert isinstance(model, torch.nn.Module)
    assert (out / "tokenizer.json").exists()


def test_int8_only_keeps_word_embeddings_finer(tiny: Path, tmp_path: Path) -> None:
    pack(tiny, tmp_path / "p", four_bit=False)
    meta = json.loads((tmp_path / "p" / MANIFEST).read_text())
    assert {e["scheme"] for e in meta["tensors"].values() if len(e["shape"]) == 2} == {"int8-row"}


def test_missing_or_foreign_parts_are_refused(tiny: Path, tmp_path: Path) -> None:
    packed = tmp_path / "packed"
    parts = [p for p in pack(tiny, packed, part_bytes=200_000) if p.suffix != ".json"]
    parts[1].rename(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="missing"):
        unpack([packed], tmp_path / "a")
    (tmp_path / "elsewhere").rename(parts[1])
    parts[1].write_bytes(b"\0" * parts[1].stat().st_size)  # same size, other content
    with pytest.raises(ValueError, match="do not match"):
        unpack([packed], tmp_path / "b")
    with pytest.raises(ValueError, match=r"no packed\.json"):
        unpack([tmp_path / "a"], tmp_path / "c")


def test_pack_and_unpack_commands(tiny: Path, tmp_path: Path) -> None:
    packed, out = tmp_path / "packed", tmp_path / "out"
    assert main(["pack-model", "--model", str(tiny), "--out", str(packed), "--int8-only"]) == 0
    assert main(["unpack-model", "--from", str(packed), "--out", str(out)]) == 0
    assert json.loads((out / "unpacked-from.json").read_text())["format"] == "qa-packed-model"
