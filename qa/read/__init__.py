"""The reader: our trained span model (``qa/models/reader``) or any Hugging Face
question-answering model (``QA_READER_MODEL``), read by ``TransformerReader``.

One trained model answers; its confidence comes from one small model fitted beside it
(``qa.read.confidence``). ``QA_READER`` keeps ``auto`` (the default) and ``transformer`` as
names for it, so a configuration written for an earlier version still loads.

Owns the ``Reader`` protocol (``base``), the span model and its windows, spans, confidence and
question-term evidence, the grouping of spans by meaning (``meanings``) and the one place the answer
threshold is decided (``answer_threshold``). May import: the foundation (``qa.text``, ``qa.types``,
``qa.settings``, ``qa.cores``); never retrieval or citing.
"""

from __future__ import annotations

from qa.read.base import Reader
from qa.settings import ModelSettings, ReadingSettings

NAMES = ("auto", "transformer")


def make_reader(models: ModelSettings) -> Reader:
    if models.reader not in NAMES:
        raise ValueError(f"unknown reader {models.reader!r}; choose one of {', '.join(NAMES)}")
    from qa.read.transformer import TransformerReader

    return TransformerReader(models.reader_path)


def answer_threshold(reading: ReadingSettings, reader: Reader) -> float:
    """The one place the answer threshold is decided: the configured one
    (``QA_ANSWER_THRESHOLD``), else the reader's calibrated default."""
    if reading.answer_threshold is not None:
        return reading.answer_threshold
    return reader.default_threshold


__all__ = ["NAMES", "Reader", "answer_threshold", "make_reader"]
