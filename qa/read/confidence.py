"""How sure the reader is of an answer: P(right) for one meaning, from the evidence behind it.

One small fitted model replaces the stack of layers that used to sit on the span model: a logistic
regression over a fixed list of features of one answer (all the spans that state one meaning, see
``qa.read.meanings``). The span model says how good the span is inside its window; the
features add what a window cannot see: how much of the reader's belief the meaning holds against
the other candidates, how many documents state it, and how close the passages are to the
question at all, by meaning and by the words they share with it (a question about something the
index does not hold retrieves passages that are only vaguely similar and miss its names, which
the span model alone cannot tell from a hard question).

The model is fitted by ``qa calibrate-reader`` (qa/train/calibrate.py) on held-out articles and
stored in the reader's ``calibration.json``, with the fingerprint of the weights it was fitted
against and the version of the feature list: loading it against other weights or other features
is refused, since its numbers would describe another model.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: bump when a feature is added, removed or computed differently: fitted files then refuse to load
FEATURE_VERSION = 3
FEATURES = (
    "null_margin",  # best span logit minus the [CLS] null logit, best member
    "span_logit",  # start + end logit, best member
    "log_span_prob",  # log P(span) of the window softmax, best member
    "share",  # the meaning's share of the softmax over every candidate span of the question
    "log_documents",  # log(1 + documents that state it)
    "dense_top",  # cosine of the question with the closest passage read
    "dense_own",  # cosine of the question with the passage of the best member
    "inverse_rank",  # 1 / rank of that passage
    "terms_top",  # the largest share of the question's content terms in one passage read
    "terms_own",  # that share in the passage of the best member
    "terms_near",  # that share within a sentence or so of the best member
    # which of the question's constraints (qa.read.constraints) the answer's text states
    "names_sentence",  # share of the question's names stated in the best member's sentence
    "names_passage",  # ... in its passage
    "figures_sentence",  # share of its numbers and ordinals stated in that sentence
    "figures_passage",  # ... in its passage
    "log_constraints",  # log(1 + the question's constraints): how much the shares can say
)
FORMAT = "qa-reader-confidence"


class FittedArtifactMismatch(ValueError):
    """A fitted file describes other weights or other features than the ones loaded."""


def model_fingerprint(model_dir: str | Path) -> str:
    """sha256 of the weights file of a model directory (ONNX graph, safetensors or torch bin),
    or of the reference itself for a hub id."""
    d = Path(model_dir)
    for name in ("model.onnx", "model.safetensors", "pytorch_model.bin"):
        path = d / name
        if path.is_file():
            h = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            return h.hexdigest()
    return hashlib.sha256(str(model_dir).encode()).hexdigest()


@dataclass(frozen=True)
class Evidence:
    """The features of one meaning; ``vector`` orders them as ``FEATURES``."""

    null_margin: float
    span_logit: float
    span_prob: float
    share: float
    documents: int
    dense_top: float
    dense_own: float
    rank: int
    terms_top: float
    terms_own: float
    terms_near: float
    names_sentence: float = 1.0
    names_passage: float = 1.0
    figures_sentence: float = 1.0
    figures_passage: float = 1.0
    constraints: int = 0

    def vector(self) -> np.ndarray:
        return np.array(
            [
                self.null_margin,
                self.span_logit,
                math.log(max(self.span_prob, 1e-8)),
                self.share,
                math.log1p(self.documents),
                self.dense_top,
                self.dense_own,
                1.0 / max(self.rank, 1),
                self.terms_top,
                self.terms_own,
                self.terms_near,
                self.names_sentence,
                self.names_passage,
                self.figures_sentence,
                self.figures_passage,
                math.log1p(self.constraints),
            ],
            dtype=np.float64,
        )

    def as_features(self) -> dict[str, float]:
        return {name: round(float(v), 6) for name, v in zip(FEATURES, self.vector(), strict=True)}


@dataclass
class ConfidenceModel:
    """Logistic regression over ``FEATURES`` (standardised with the stored mean and scale), and
    the threshold under which the reader abstains."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    model_sha256: str = ""
    feature_version: int = FEATURE_VERSION
    features: tuple[str, ...] = FEATURES
    fitted: dict[str, Any] = field(default_factory=dict)  # how and on what: for people, not code

    @classmethod
    def uncalibrated(cls) -> ConfidenceModel:
        """For a model nobody fitted a confidence to (a user's own hub model): the logistic of
        the null margin, which orders answers sensibly but promises no probability."""
        n = len(FEATURES)
        weights = tuple(1.0 if f == "null_margin" else 0.0 for f in FEATURES)
        return cls(weights, 0.0, (0.0,) * n, (1.0,) * n, 0.5)

    def probability(self, x: np.ndarray) -> np.ndarray:
        """P(right) for each row of ``x`` (rows ordered as ``FEATURES``)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = z @ np.asarray(self.weights) + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logit, -30.0, 30.0))))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "feature_version": self.feature_version,
            "features": list(self.features),
            "model_sha256": self.model_sha256,
            "weights": [round(w, 8) for w in self.weights],
            "bias": round(self.bias, 8),
            "mean": [round(m, 8) for m in self.mean],
            "scale": [round(s, 8) for s in self.scale],
            "threshold": round(self.threshold, 6),
            "fitted": self.fitted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConfidenceModel:
        if data.get("format") != FORMAT:
            raise ValueError(
                f"not a reader confidence file (format {data.get('format')!r}); refit it with "
                "`qa calibrate-reader`"
            )
        n = len(data["features"])
        model = cls(
            tuple(map(float, data["weights"])),
            float(data["bias"]),
            tuple(map(float, data["mean"])),
            tuple(map(float, data["scale"])),
            float(data["threshold"]),
            str(data.get("model_sha256", "")),
            int(data["feature_version"]),
            tuple(map(str, data["features"])),
            dict(data.get("fitted", {})),
        )
        if not (len(model.weights) == len(model.mean) == len(model.scale) == n):
            raise ValueError("weights, mean, scale and features must have the same length")
        if any(s <= 0 for s in model.scale):
            raise ValueError("feature scales must be positive")
        return model

    def check(self, model_sha256: str) -> None:
        """Refuse to describe weights or features other than those it was fitted on."""
        if self.feature_version != FEATURE_VERSION or self.features != FEATURES:
            raise FittedArtifactMismatch(
                f"the reader's confidence was fitted on feature version {self.feature_version} "
                f"{list(self.features)}; this code computes version {FEATURE_VERSION} "
                f"{list(FEATURES)}. Refit it: `qa calibrate-reader`"
            )
        if self.model_sha256 and model_sha256 and self.model_sha256 != model_sha256:
            raise FittedArtifactMismatch(
                f"the reader's confidence was fitted on weights {self.model_sha256[:12]}, but the "
                f"loaded weights are {model_sha256[:12]}. Refit it: `qa calibrate-reader`"
            )

    @classmethod
    def load(cls, path: Path, model_sha256: str) -> ConfidenceModel:
        try:
            model = cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: unreadable reader confidence file: {exc}") from exc
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        model.check(model_sha256)
        return model

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
