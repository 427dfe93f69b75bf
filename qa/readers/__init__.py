"""Readers chosen by name in settings (``QA_READER``): ``transformer`` loads our trained reader or
any Hugging Face question-answering model (``QA_READER_MODEL``); ``heuristic`` is built only from
packaged parts (spaCy entities and MiniLM); ``auto`` prefers the trained reader when it ships."""

from __future__ import annotations

from pathlib import Path

from qa.embed import Embedder
from qa.readers.base import Reader
from qa.settings import Settings

NAMES = ("auto", "transformer", "heuristic")


def _has_model(path: str) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "config.json").exists()


def make_reader(settings: Settings, embedder: Embedder) -> Reader:
    name = settings.reader
    if name not in NAMES:
        raise ValueError(f"unknown reader {name!r}; choose one of {', '.join(NAMES)}")
    if name == "auto":
        name = (
            "transformer"
            if settings.reader_model or _has_model(settings.reader_path)
            else ("heuristic")
        )
    if name == "transformer":
        from qa.readers.transformer import TransformerReader

        return TransformerReader(settings.reader_path, threshold=settings.answer_threshold)
    from qa.readers.heuristic import HeuristicReader

    return HeuristicReader(embedder, threshold=settings.answer_threshold)


__all__ = ["NAMES", "Reader", "make_reader"]
