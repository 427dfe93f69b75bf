"""Turn SQuAD examples into fixed-length training windows with start/end token labels.

Long paragraphs are cut into overlapping windows (``stride`` tokens shared between neighbours);
a window that does not contain the whole answer is labelled with the [CLS] position, the same
target as an unanswerable question, so the model learns "not in this window".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qa.eval.squad import Example


@dataclass
class Window:
    input_ids: list[int]
    token_type_ids: list[int]
    start: int  # label token index; 0 ([CLS]) means no answer in this window
    end: int
    # Where the window's text came from, so that another model (a distillation teacher, with its
    # own tokenizer) can read the very same text: the question as it was fed, the example's
    # context, and each token's character span in that context ((-1, -1) outside it).
    question: str = ""
    context: str = ""
    offsets: list[tuple[int, int]] = field(default_factory=list)
    # A teacher's start/end logits at each of this window's tokens (NaN where it has none).
    soft_start: Any = None
    soft_end: Any = None
    # Whether the window's question has an answer at all (a window may still lack it).
    answerable: bool = True


def encode_windows(
    tokenizer: Any,
    examples: list[Example],
    *,
    max_length: int = 256,
    stride: int = 64,
    max_query_tokens: int = 64,
    max_negative_windows: int | None = None,
) -> list[Window]:
    """``max_negative_windows`` caps the windows per question that do not hold its answer: a
    whole scientific paper as context would otherwise give dozens of "not here" windows per
    question and drown the answerable ones."""
    windows: list[Window] = []
    batch = 256
    for lo in range(0, len(examples), batch):
        chunk = examples[lo : lo + batch]
        questions = [_trim_question(tokenizer, e.question, max_query_tokens) for e in chunk]
        enc = tokenizer(
            questions,
            [e.context for e in chunk],
            truncation="only_second",
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )
        negatives_kept: dict[int, int] = {}
        for i, sample in enumerate(enc["overflow_to_sample_mapping"]):
            ex = chunk[sample]
            seq_ids = enc.sequence_ids(i)
            offsets = enc["offset_mapping"][i]
            start = end = 0
            if ex.spans:
                text, char_start = ex.spans[0]
                start, end = _label(seq_ids, offsets, char_start, char_start + len(text))
            if start == 0 and max_negative_windows is not None:
                if negatives_kept.get(sample, 0) >= max_negative_windows:
                    continue
                negatives_kept[sample] = negatives_kept.get(sample, 0) + 1
            tt = enc["token_type_ids"][i] if "token_type_ids" in enc else [0] * len(seq_ids)
            spans = [
                (int(o[0]), int(o[1])) if s == 1 else (-1, -1)
                for s, o in zip(seq_ids, offsets, strict=True)
            ]
            windows.append(
                Window(
                    enc["input_ids"][i],
                    tt,
                    start,
                    end,
                    questions[sample],
                    ex.context,
                    spans,
                    answerable=bool(ex.answers),
                )
            )
    return windows


def _trim_question(tokenizer: Any, question: str, max_tokens: int) -> str:
    """Very long questions would leave no room for the passage; keep their first tokens."""
    q = question.strip()
    ids = tokenizer(q, add_special_tokens=False)["input_ids"]
    if len(ids) <= max_tokens:
        return q
    return str(tokenizer.decode(ids[:max_tokens]))


def _label(
    seq_ids: list[int | None], offsets: list[tuple[int, int]], a_start: int, a_end: int
) -> tuple[int, int]:
    ctx = [k for k, s in enumerate(seq_ids) if s == 1]
    if not ctx:
        return 0, 0
    first, last = ctx[0], ctx[-1]
    if offsets[first][0] > a_start or offsets[last][1] < a_end:
        return 0, 0
    s = first
    while s <= last and offsets[s][1] <= a_start:
        s += 1
    e = last
    while e >= first and offsets[e][0] >= a_end:
        e -= 1
    if s > e:
        return 0, 0
    return s, e
