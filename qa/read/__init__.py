"""The reader: our trained span model (``qa/models/reader``) or any Hugging Face
question-answering model (``QA_READER_MODEL``), read by ``TransformerReader``.

One trained model answers; its confidence comes from one small model fitted beside it
(``qa.read.confidence``). ``QA_READER`` keeps ``auto`` (the default) and ``transformer`` as
names for it, so a configuration written for an earlier version still loads."""

from __future__ import annotations

from qa.read.base import Reader
from qa.settings import Settings

NAMES = ("auto", "transformer")


def make_reader(settings: Settings) -> Reader:
    if settings.reader not in NAMES:
        raise ValueError(f"unknown reader {settings.reader!r}; choose one of {', '.join(NAMES)}")
    from qa.read.transformer import TransformerReader

    return TransformerReader(settings.reader_path, threshold=settings.answer_threshold)


__all__ = ["NAMES", "Reader", "make_reader"]
