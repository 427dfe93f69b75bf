"""Readers chosen by name in settings (``QA_READER``): ``transformer`` loads our trained reader or
any Hugging Face question-answering model (``QA_READER_MODEL``); ``heuristic`` is built only from
packaged parts (spaCy entities and MiniLM); ``ensemble`` combines the two with weights fitted for
the shipped trained reader. ``auto`` picks the ensemble when the trained reader and its weights
ship, the transformer alone for a model of the user's own (the weights do not describe it), and
the heuristic reader when no trained reader exists."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qa.embed import Embedder
from qa.readers.base import Reader
from qa.settings import Settings

if TYPE_CHECKING:
    from qa.readers.heuristic import HeuristicReader
    from qa.readers.transformer import TransformerReader

NAMES = ("auto", "ensemble", "transformer", "heuristic")


def _has_model(path: str) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "config.json").exists()


def make_reader(settings: Settings, embedder: Embedder) -> Reader:
    name = settings.reader
    if name not in NAMES:
        raise ValueError(f"unknown reader {name!r}; choose one of {', '.join(NAMES)}")
    if name == "auto":
        from qa.readers.ensemble import WEIGHTS

        if settings.reader_model:
            name = "transformer"
        elif _has_model(settings.reader_path):
            name = "ensemble" if WEIGHTS.exists() else "transformer"
        else:
            name = "heuristic"
    if name == "ensemble":
        from qa.readers.ensemble import EnsembleReader

        transformer, heuristic = make_component_readers(settings, embedder)
        return EnsembleReader(transformer, heuristic, threshold=settings.answer_threshold)
    if name == "transformer":
        from qa.readers.transformer import TransformerReader

        return TransformerReader(settings.reader_path, threshold=settings.answer_threshold)
    from qa.readers.heuristic import HeuristicReader

    return HeuristicReader(embedder, threshold=settings.answer_threshold)


def make_component_readers(
    settings: Settings, embedder: Embedder | None = None
) -> tuple[TransformerReader, HeuristicReader]:
    """The two readers the ensemble combines, each with its own default threshold (the
    ensemble's threshold is the one that applies to answers)."""
    from qa.readers.heuristic import HeuristicReader
    from qa.readers.transformer import TransformerReader

    return (
        TransformerReader(settings.reader_path),
        HeuristicReader(embedder or Embedder(settings.embed_model)),
    )


__all__ = ["NAMES", "Reader", "make_component_readers", "make_reader"]
