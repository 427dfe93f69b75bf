"""How often a calibrated reader refuses near-miss questions on held-out articles, by kind, and
how often it answers the questions they were made from: the probe that showed the weakness
(a reader that answers a question about the Abkhazian KGB from a sentence on the South Ossetian
one), run on the articles no training or fitting saw.

Each answerable question of the chosen articles is perturbed as the training ones were
(``qa.train.nearmiss``, the calibration's own seed and share per kind) and read over its
paragraph at the reader's stored threshold; its source question is read over its own paragraph
beside it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from qa.eval.squad import read_squad
from qa.read.transformer import TransformerReader
from qa.train.calibrate import CORRECT_F1, choose, near_miss_cases
from qa.train.data import Split


def evaluate(
    model: str | Path, squad2: str | Path, split: Split, part: str = "test"
) -> dict[str, Any]:
    reader = TransformerReader(model)
    titles = split.test if part == "test" else split.calibration
    cases = near_miss_cases(reader, read_squad(squad2, set(titles)), originals=True)
    confidence, threshold = reader.confidence, reader.default_threshold
    refused: dict[str, list[float]] = defaultdict(list)
    answered: list[float] = []
    right: list[float] = []
    for case in cases:
        ch = choose(case, confidence)
        says = ch.text is not None and ch.p >= threshold
        if case.kind == "near_miss":
            kind = case.example.id.rsplit("-", 1)[-1]
            refused[kind].append(float(not says))
            refused["all"].append(float(not says))
        else:
            answered.append(float(says))
            right.append(float(says and ch.f1 >= CORRECT_F1))
    return {
        "model": str(model),
        "part": part,
        "articles": sorted(titles),
        "threshold": threshold,
        "near_miss_refused": {
            k: {"questions": len(v), "refused": round(100 * float(np.mean(v)), 1)}
            for k, v in sorted(refused.items())
        },
        "originals": {
            "questions": len(answered),
            "answered": round(100 * float(np.mean(answered)), 1) if answered else None,
            "answered_right": round(100 * float(np.mean(right)), 1) if right else None,
        },
    }
