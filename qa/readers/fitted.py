"""Weights of the small fitted models the readers ship (JSON beside the code), and the link
functions those models use. Loading checks that a file was fitted on the features the code now
computes: a stale file would silently score every candidate wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


class WeightsError(ValueError):
    """A weights file is missing or was fitted on other features."""


def load_fitted(
    path: Path, models: tuple[tuple[str, tuple[str, ...]], ...], command: str
) -> dict[str, Any]:
    """The JSON at ``path``, checked: each ``(key, feature names)`` model must list exactly those
    features and one weight per feature. ``command`` is what refits the file."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise WeightsError(f"{path} is missing: run `{command}` to fit it") from exc
    for key, names in models:
        model = data.get(key) or {}
        if list(model.get("features", [])) != list(names) or len(model.get("weights", [])) != len(
            names
        ):
            raise WeightsError(
                f"{path}: the {key} model was fitted on other features; refit with `{command}`"
            )
    return data


def threshold_of(data: dict[str, Any], override: float | None) -> float:
    """The abstention threshold: ``override`` (from settings) when given, else the fitted one;
    a probability either way."""
    value = float(data["threshold"] if override is None else override)
    if not 0.0 <= value <= 1.0:
        raise ValueError("threshold must be in [0, 1]")
    return value


def softmax(z: np.ndarray) -> np.ndarray:
    if z.size == 0:
        return z
    e = np.exp(z - z.max())
    return np.asarray(e / e.sum(), dtype=np.float64)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))), dtype=np.float64)
