"""Distillation: a teacher's logits carried onto a student's tokens by character, scored once and
kept, and the loss that trains on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from support import CONTEXT, save_tiny_bert, save_tiny_mpnet, squad_example

from qa.train.cli import main
from qa.train.distill import align, attach_teacher, distillation_loss
from qa.train.features import Window, encode_windows
from qa.train.trainer import TrainConfig, batch_order, windows_seen

QUESTION = "When did Rollo swear fealty?"


@pytest.fixture(scope="module")
def student_tokenizer(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        save_tiny_bert(tmp_path_factory.mktemp("student"), qa_head=False)
    )


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # another architecture with other special tokens: [CLS] q [SEP] [SEP] p [SEP]
    return save_tiny_mpnet(tmp_path_factory.mktemp("teacher"), qa_head=True)


def _windows(tokenizer) -> list[Window]:  # type: ignore[no-untyped-def]
    long_context = ("Filler sentence about nothing in particular. " * 12) + CONTEXT
    ex = squad_example("q", "t", QUESTION, long_context, [("911", long_context.index("911"))])
    return encode_windows(tokenizer, [ex], max_length=64, stride=16)


def test_align_maps_by_character_across_tokenizations() -> None:
    # context "Normandy is" at character 10: the student has one piece for "Normandy", the
    # teacher two ("Norm", "andy"); the teacher's question token (not context) is never used
    student = [(-1, -1), (10, 18), (19, 21), (-1, -1)]
    teacher = [(0, 0), (0, 5), (0, 4), (4, 8), (9, 11), (0, 0)]
    context = [False, False, True, True, True, False]
    starts, ends = align(teacher, context, student, base=10)
    assert starts.tolist() == [0, 2, 4, -1]
    assert ends.tolist() == [0, 3, 4, -1]
    # a student token that starts inside a teacher token has no start logit to take
    starts, _ = align(teacher, context, [(-1, -1), (12, 18)], base=10)
    assert starts.tolist() == [0, -1]


def test_teacher_logits_land_on_the_students_tokens(student_tokenizer, teacher, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    windows = _windows(student_tokenizer)
    assert len(windows) > 2
    attach_teacher(windows, list(range(len(windows))), str(teacher), tmp_path / "cache")

    model = AutoModelForQuestionAnswering.from_pretrained(teacher).eval()
    t_tok = AutoTokenizer.from_pretrained(teacher)
    for w in windows:
        inside = [p for p, o in enumerate(w.offsets) if o[0] >= 0]
        outside = [p for p in range(1, len(w.input_ids)) if p not in inside]
        assert np.isfinite(w.soft_start[[0, *inside]]).all()
        assert np.isfinite(w.soft_end[[0, *inside]]).all()
        assert np.isnan(w.soft_start[outside]).all() and np.isnan(w.soft_end[outside]).all()
        # both tokenizers share word pieces, so the teacher's own context logits, in order,
        # are the student's soft targets
        text = w.context[w.offsets[inside[0]][0] : w.offsets[inside[-1]][1]]
        enc = t_tok(w.question, text, return_tensors="pt")
        with torch.inference_mode():
            out = model(**enc)
        t_ctx = [k for k, s in enumerate(enc.sequence_ids(0)) if s == 1]
        np.testing.assert_allclose(
            w.soft_start[inside], out.start_logits[0, t_ctx].numpy(), atol=1e-4
        )
        np.testing.assert_allclose(w.soft_end[inside], out.end_logits[0, t_ctx].numpy(), atol=1e-4)
        assert w.soft_start[0] == pytest.approx(float(out.start_logits[0, 0]), abs=1e-4)


def test_teacher_logits_are_scored_once_per_window_and_refused_for_another_teacher(
    student_tokenizer, teacher, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    windows = _windows(student_tokenizer)
    cache = tmp_path / "cache"
    attach_teacher(windows, [0, 1], str(teacher), cache)
    blocks = sorted(cache.glob("block-*.npz"))
    stamps = [b.stat().st_mtime_ns for b in blocks]
    again = _windows(student_tokenizer)
    attach_teacher(again, [0, 1], str(teacher), cache)
    assert sorted(cache.glob("block-*.npz")) == blocks  # read back, not scored again
    assert [b.stat().st_mtime_ns for b in blocks] == stamps
    np.testing.assert_array_equal(again[1].soft_end, windows[1].soft_end)
    assert again[2].soft_start is None  # only the windows asked for

    # another run (another seed's windows) scores only what no earlier run did, in a new block
    third = _windows(student_tokenizer)
    attach_teacher(third, [0, 2], str(teacher), cache)
    new = sorted(set(cache.glob("block-*.npz")) - set(blocks))
    assert len(new) == 1 and len(np.load(new[0])["keys"]) == 1
    assert [b.stat().st_mtime_ns for b in blocks] == stamps
    np.testing.assert_array_equal(third[0].soft_start, windows[0].soft_start)
    assert third[2].soft_start is not None and len(third[2].soft_start) == len(third[2].input_ids)

    manifest = cache / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"teacher": "', '"teacher": "other'))
    with pytest.raises(ValueError, match="teacher"):
        attach_teacher(_windows(student_tokenizer), [0], str(teacher), cache)


def test_distillation_loss_is_zero_on_agreement_and_skips_rows_without_a_teacher() -> None:
    nan = float("nan")
    student = torch.tensor([[2.0, 0.5, -1.0, 3.0], [0.0, 1.0, 2.0, 3.0]], requires_grad=True)
    teacher = torch.tensor([[2.0, nan, -1.0, 3.0], [nan, nan, nan, nan]])
    # positions the teacher did not score (NaN) are left out, so only the others must agree
    assert float(distillation_loss(student, teacher, 2.0).detach()) == pytest.approx(0.0, abs=1e-6)
    shifted = torch.tensor([[0.0, nan, 3.0, -1.0], [nan, nan, nan, nan]])
    loss = distillation_loss(student, shifted, 2.0)
    assert float(loss) > 0.1
    loss.backward()
    assert student.grad is not None
    assert student.grad[0, 1] == 0 and torch.all(student.grad[1] == 0)
    assert float(distillation_loss(student, teacher[1:].expand(2, 4), 2.0).detach()) == 0.0


def test_windows_seen_are_the_windows_trained_on() -> None:
    lengths = [10 + k % 7 for k in range(50)]
    cfg = TrainConfig(base_model="x", out="x", batch_size=4, max_steps=5, seed=3)
    expected = sorted(i for b in batch_order(lengths, 4, 3, 0)[:5] for i in b)
    assert windows_seen(lengths, cfg) == expected and len(expected) == 20
    cfg = TrainConfig(base_model="x", out="x", batch_size=4, epochs=1.5, seed=3)
    assert windows_seen(lengths, cfg) == list(range(50))


def test_train_reader_distils_and_resumes_exactly(teacher, squad_files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from safetensors.torch import load_file

    base = save_tiny_bert(tmp_path / "base", qa_head=False)
    data, no_answer = squad_files
    common = ["--data", str(data), "--no-answer", str(no_answer), "--base-model", str(base)]
    common += ["--held-out", "2", "--batch", "4", "--seq-len", "64", "--stride", "16"]
    common += ["--max-steps", "4", "--save-every", "2", "--lr", "1e-3", "--teacher", str(teacher)]
    common += ["--teacher-cache", str(tmp_path / "teacher-logits"), "--distill-alpha", "0.7"]
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    assert main(["train-reader", *common, "--out", str(run_a)]) == 0
    config = json.loads((run_a / "train_config.json").read_text())
    assert config["teacher"] == str(teacher) and config["distill_alpha"] == 0.7
    assert list((tmp_path / "teacher-logits").glob("block-*.npz"))

    run_b.mkdir()
    shutil.copy(run_a / "checkpoint.pt", run_b / "checkpoint.pt")
    assert main(["train-reader", *common, "--out", str(run_b), "--resume"]) == 0
    wa, wb = (load_file(str(r / "final" / "model.safetensors")) for r in (run_a, run_b))
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)

    with pytest.raises(SystemExit, match="distill-alpha"):
        main(["train-reader", *common, "--distill-alpha", "1.5", "--out", str(tmp_path / "c")])
