"""Training examples from SQuAD files (read by ``qa.eval.squad``, as evaluation reads them) and
the by-article split.

The split is by article title so that no article's text is seen both in training and in
evaluation: questions on one article share vocabulary and answer types, so a question-level split
would overstate held-out quality.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qa.eval.squad import Example, read_squad


def load_squad(path: str | Path) -> list[Example]:
    """The questions of a SQuAD v1.1 or v2.0 file that can be learnt from: unanswerable ones, and
    answerable ones with at least one answer where the file says it starts (``Example.spans``);
    one without is skipped rather than mislabelled."""
    return [e for e in read_squad(path).examples if not e.answerable or e.spans]


@dataclass
class Split:
    """Which articles train, which are held out (calibration half, test half)."""

    seed: int
    train: list[str]
    calibration: list[str]
    test: list[str]

    @property
    def held_out(self) -> list[str]:
        return self.calibration + self.test

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "train": self.train,
            "held_out": self.held_out,
            "calibration": self.calibration,
            "test": self.test,
            "note": "By article title. Held-out articles are drawn from the SQuAD 2.0 articles so "
            "that both answerable and unanswerable questions can be measured on them; "
            "calibration is fit on 'calibration' and reported on 'test'.",
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Split:
        return cls(
            int(data["seed"]), list(data["train"]), list(data["calibration"]), list(data["test"])
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Split:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def make_split(
    all_titles: list[str], pool: list[str], *, n_held_out: int = 8, seed: int = 13
) -> Split:
    """Hold out ``n_held_out`` articles of ``pool`` (seeded shuffle of sorted titles, so the
    result does not depend on file order); everything else in ``all_titles`` trains."""
    shuffled = sorted(set(pool))
    if n_held_out >= len(shuffled):
        raise ValueError(f"cannot hold out {n_held_out} of {len(shuffled)} articles")
    random.Random(seed).shuffle(shuffled)
    held = shuffled[:n_held_out]
    half = (len(held) + 1) // 2
    held_set = set(held)
    train = sorted(t for t in set(all_titles) if t not in held_set)
    return Split(seed, train, sorted(held[:half]), sorted(held[half:]))


def titles(examples: list[Example]) -> list[str]:
    return sorted({e.title for e in examples})


def select(examples: list[Example], keep: list[str]) -> list[Example]:
    wanted = set(keep)
    return [e for e in examples if e.title in wanted]


def training_examples(data: list[Example], no_answer: list[Example], split: Split) -> list[Example]:
    """Answerable questions of ``data`` plus unanswerable ones of ``no_answer``, train articles
    only. Questions present in both files (SQuAD 2.0 dev repeats SQuAD 1.1 dev) are kept once."""
    train = set(split.train)
    seen: set[tuple[str, str]] = set()
    out: list[Example] = []
    for e in data + [x for x in no_answer if not x.answerable]:
        key = (e.question.strip(), e.context)
        if e.title in train and key not in seen:
            seen.add(key)
            out.append(e)
    return out


def load_source(spec: str, *, seed: int = 13) -> list[Example]:
    """``PATH`` or ``PATH:N``: a SQuAD file, or a seeded sample of N of its questions.

    Titles are prefixed with the file's stem so that a title shared by two sources (every
    SQuADShifts Reddit question is under one title) never joins articles of different origin in
    the by-article logic, and so that negatives are never drawn from the same source article."""
    path, sep, cap = spec.rpartition(":")
    if not sep or not cap.isdigit():
        path, cap = spec, ""
    examples = load_squad(path)
    stem = Path(path).stem
    examples = [replace(e, title=f"{stem}/{e.title}") for e in examples]
    if cap:
        n = int(cap)
        if n < len(examples):
            examples = random.Random(seed).sample(examples, n)
    return examples


def retrieved_negatives(
    examples: list[Example], n: int, *, seed: int = 13, max_context_chars: int = 4000
) -> list[Example]:
    """Questions paired with the paragraph of *another* article that BM25 ranks first for them.

    These are the unanswerable cases the service meets: retrieval hands the reader a passage on
    the right topic from a document that does not answer the question. SQuAD 2.0's adversarial
    questions teach abstention against a paragraph that almost answers; these teach it against
    a paragraph that is merely about the same thing. A paragraph that happens to contain one of
    the question's answers is skipped, so a negative is never in fact answerable."""
    import bm25s

    answerable = [e for e in examples if e.spans]
    if n <= 0 or not answerable:
        return []
    paragraphs: dict[str, str] = {}  # context -> title, first seen
    for e in examples:
        if len(e.context) <= max_context_chars:
            paragraphs.setdefault(e.context, e.title)
    contexts = list(paragraphs)
    owners = [paragraphs[c] for c in contexts]
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(contexts, stopwords="en", show_progress=False), show_progress=False
    )
    picked = random.Random(seed).sample(answerable, min(n, len(answerable)))
    tokens = bm25s.tokenize([e.question for e in picked], stopwords="en", show_progress=False)
    k = min(10, len(contexts))
    docs, _ = retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
    out: list[Example] = []
    for e, row in zip(picked, docs, strict=True):
        golds = [a.lower() for a, _ in e.spans]
        for j in row:
            ctx = contexts[int(j)]
            if owners[int(j)] == e.title:
                continue
            low = ctx.lower()
            if any(g in low for g in golds):
                continue
            out.append(Example(f"neg-{e.id}", e.question, [], title=e.title, context=ctx))
            break
    return out
