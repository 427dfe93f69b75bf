"""The reader's two tokenizers cut question + passage pairs into the same windows: the
``tokenizers`` path the shipped ONNX reader serves with (no transformers import) against the
transformers fast tokenizer the reader used before, on what can go wrong with windows: overflow
with a stride, unicode (offsets count characters, not bytes), special-token text, line breaks,
an empty-looking passage, and a question long enough to be trimmed."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from support import SEEDS

from qa.read.windows import FastTokenizer, HFTokenizer
from qa.settings import SHIPPED_READER

MAX_LENGTH, STRIDE = 256, 64

UNICODE = (
    "Zürich’s café «Le Naïf» — opened in 1912 by Ğülşen Øster — served 北京 tea and "
    "crème brûlée 😀 to Ærø’s ﬁshermen; ﬀ ligatures, e\u0301 combining marks, a\u00a0nbsp, "
    "and a zero\u200bwidth space. [SEP] is text here, not a separator.\n\nNew paragraph: "
)


def _texts() -> list[str]:
    seed = (SEEDS / "000_5f0f8e843e26db9e.txt").read_text(encoding="utf-8")
    return [
        seed,  # a whole news article: several overflow windows
        UNICODE * 12,  # unicode, long enough to overflow too
        "Rollo agreed to swear fealty to King Charles III in 911.",  # one short window
        "\u200b",  # no token at all: a window with an empty passage
        "  line one\nline two\r\n\ttabbed   spaced  ",
    ]


QUESTIONS = [
    "Who is the chairman of the Tskhinvali parliament?",
    "Wer eröffnete das Café «Le Naïf» in Zürich, und wann? 北京?",
    # far past the reader's 64-token question budget: trimmed, then decoded back to text
    "Which of the " + " ".join(f"candidate{i} (née Ørsted-{i})" for i in range(40)) + " won?",
    "What does [SEP] mean [CLS] here?",
]


@pytest.fixture(scope="module")
def tokenizers() -> tuple[FastTokenizer, HFTokenizer]:
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(SHIPPED_READER))
    return (
        FastTokenizer(Path(SHIPPED_READER), MAX_LENGTH, STRIDE),
        HFTokenizer(hf, MAX_LENGTH, STRIDE),
    )


@pytest.mark.parametrize("question", QUESTIONS)
def test_windows_are_identical_to_transformers(
    tokenizers: tuple[FastTokenizer, HFTokenizer], question: str
) -> None:
    fast, hf = tokenizers
    trimmed = fast.trim(question, 64)
    assert trimmed == hf.trim(question, 64)
    texts = _texts()
    ours, theirs = fast.windows(trimmed, texts), hf.windows(trimmed, texts)
    assert len(ours) > len(texts)  # the long passages overflowed
    assert np.array_equal(ours.passage, theirs.passage)
    assert np.array_equal(ours.input_ids, theirs.input_ids)
    assert np.array_equal(ours.attention_mask, theirs.attention_mask)
    assert np.array_equal(ours.token_type_ids, theirs.token_type_ids)
    assert np.array_equal(ours.offsets, theirs.offsets)
    assert ours.sequence_ids == theirs.sequence_ids
    assert ours.input_ids.shape[1] <= MAX_LENGTH


def test_long_question_is_trimmed_and_windows_overlap(
    tokenizers: tuple[FastTokenizer, HFTokenizer],
) -> None:
    fast, _ = tokenizers
    long_question = QUESTIONS[2]
    trimmed = fast.trim(long_question, 64)
    assert trimmed != long_question and len(trimmed) < len(long_question)
    assert fast.trim(QUESTIONS[0], 64) == QUESTIONS[0]  # a short question is kept verbatim
    text = _texts()[0]
    cut = fast.windows(trimmed, [text])
    # consecutive windows of one passage share STRIDE passage tokens, and together cover it
    spans = []
    for w in range(len(cut)):
        ctx = [k for k, sid in enumerate(cut.sequence_ids[w]) if sid == 1]
        spans.append([tuple(cut.offsets[w, k]) for k in ctx])
    for before, after in itertools.pairwise(spans):
        assert before[-STRIDE:] == after[:STRIDE]
    assert spans[0][0][0] == len(text) - len(text.lstrip())
    assert spans[-1][-1][1] == len(text.rstrip())
