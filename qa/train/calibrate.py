"""Fit the reader's score calibration and abstention threshold on held-out articles.

The raw score (by default ``null_margin``: best span logit minus [CLS] null logit) is mapped to
the probability that answering with the span is right (F1 >= 0.5 to a gold answer; answering an
unanswerable question is wrong) by isotonic regression, fitted on the "calibration" half of the
held-out articles. The threshold is the calibrated score that maximises SQuAD 2.0 F1 (answerable
and unanswerable questions together) on the same half. Everything is reported on the other
("test") half, which neither the model nor the calibration has seen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from qa.readers.transformer import CALIBRATION_NAME, RAW_INPUTS, TransformerReader
from qa.train.data import Split, load_squad, select
from qa.train.evaluate import Prediction, correct, predict, summarize


def isotonic(x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    """Pool-adjacent-violators fit of non-decreasing y on x, as interpolation knots: each pooled
    block contributes its first and last x at the block's mean y."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order].astype(float), y[order].astype(float)
    blocks: list[list[float]] = []  # [sum_y, count, x_lo, x_hi]
    for xv, yv in zip(xs, ys, strict=True):
        blocks.append([yv, 1.0, xv, xv])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s, n, _, hi = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += n
            blocks[-1][3] = hi
    kx: list[float] = []
    ky: list[float] = []
    for s, n, lo, hi in blocks:
        for xv in (lo, hi) if hi > lo else (lo,):
            if kx and xv <= kx[-1]:
                continue
            kx.append(float(xv))
            ky.append(round(s / n, 6))
    return kx, ky


def best_threshold(scores: np.ndarray, answerable: np.ndarray, f1s: np.ndarray) -> float:
    """The threshold on calibrated scores that maximises SQuAD 2.0 F1 (answer iff score >= t)."""
    best_t, best_f = 1.0, float(np.mean(~answerable))  # (almost) always abstain
    for t in np.unique(scores):
        answered = scores >= t
        f = np.where(answerable, np.where(answered, f1s, 0.0), (~answered).astype(float)).mean()
        if f > best_f + 1e-12:
            best_t, best_f = float(t), float(f)
    return best_t


def apply(preds: list[Prediction], key: str, x: list[float], y: list[float]) -> list[Prediction]:
    out = []
    for p in preds:
        score = float(np.interp(p.raw[key], x, y)) if key in p.raw else 0.0
        out.append(Prediction(p.id, p.answerable, p.text, score, p.raw, p.em, p.f1))
    return out


def calibrate(
    model: str | Path,
    data: str | Path,
    no_answer: str | Path | None,
    split: Split,
    out: str | Path,
    *,
    key: str | None = None,
) -> dict[str, Any]:
    examples = load_squad(data)
    seen = {(e.question.strip(), e.context) for e in examples}
    if no_answer:
        examples += [
            e
            for e in load_squad(no_answer)
            if e.is_impossible and (e.question.strip(), e.context) not in seen
        ]
    reader = TransformerReader(model).uncalibrated()
    cal_preds = predict(reader, select(examples, split.calibration))
    test_preds = predict(reader, select(examples, split.test))
    if not cal_preds:
        raise ValueError("no calibration questions: do the split's articles exist in the data?")
    fits = {k: _fit(cal_preds, test_preds, k) for k in RAW_INPUTS}
    if key is None:  # the raw score that answers best on the calibration half
        key = max(RAW_INPUTS, key=lambda k: fits[k]["metrics"]["calibration"]["overall_f1"])
    chosen = fits[key]
    report = {
        "input": key,
        "target": "answering with the best span is right: token F1 >= 0.5 to a gold answer; "
        "answering an unanswerable question is wrong",
        "isotonic": chosen["isotonic"],
        "threshold": chosen["threshold"],
        "fitted_on": split.calibration,
        "reported_on": split.test,
        "metrics": chosen["metrics"],
        "alternatives": {
            k: {
                half: {m: v for m, v in f["metrics"][half].items() if m != "reliability"}
                for half in ("calibration", "test")
            }
            for k, f in fits.items()
            if k != key
        },
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / CALIBRATION_NAME).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return report


def _fit(cal_preds: list[Prediction], test_preds: list[Prediction], key: str) -> dict[str, Any]:
    raw = np.array([p.raw.get(key, -1e9) for p in cal_preds])
    x, y = isotonic(raw, np.array([correct(p) for p in cal_preds]))
    cal_fit = apply(cal_preds, key, x, y)
    threshold = best_threshold(
        np.array([p.score for p in cal_fit]),
        np.array([p.answerable for p in cal_fit]),
        np.array([p.f1 for p in cal_fit]),
    )
    return {
        "isotonic": {"x": [round(v, 6) for v in x], "y": y},
        "threshold": round(threshold, 6),
        "metrics": {
            "calibration": summarize(cal_fit, threshold),
            "test": summarize(apply(test_preds, key, x, y), threshold),
        },
    }


def calibrate_from_files(
    model: str | Path,
    data: str | Path,
    no_answer: str | Path | None,
    split_path: str | Path,
    out: str | Path,
) -> dict[str, Any]:
    return calibrate(model, data, no_answer, Split.load(split_path), out)
