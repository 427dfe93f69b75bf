"""SQuAD JSON loading and the by-article split.

The split is by article title so that no article's text is seen both in training and in
evaluation: questions on one article share vocabulary and answer types, so a question-level split
would overstate held-out quality.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Example:
    """One SQuAD question on one paragraph; ``answers`` is empty when it is unanswerable."""

    id: str
    title: str
    question: str
    context: str
    answers: list[tuple[str, int]] = field(default_factory=list)  # (text, char start)

    @property
    def is_impossible(self) -> bool:
        return not self.answers


def load_squad(path: str | Path) -> list[Example]:
    """Read a SQuAD v1.1 or v2.0 file; answers whose offsets disagree with the text are dropped."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read SQuAD file {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{path}: not SQuAD JSON (no 'data' list)")
    out: list[Example] = []
    for article in data["data"]:
        title = str(article.get("title", ""))
        for para in article.get("paragraphs", []):
            context = para["context"]
            for qa in para.get("qas", []):
                answers = []
                if not qa.get("is_impossible", False):
                    for a in qa.get("answers", []):
                        text, start = a["text"], int(a["answer_start"])
                        if context[start : start + len(text)] == text:
                            answers.append((text, start))
                    if not answers:
                        continue  # answerable but no usable offset: skip rather than mislabel
                out.append(Example(str(qa["id"]), title, qa["question"], context, answers))
    return out


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
    for e in data + [x for x in no_answer if x.is_impossible]:
        key = (e.question.strip(), e.context)
        if e.title in train and key not in seen:
            seen.add(key)
            out.append(e)
    return out
