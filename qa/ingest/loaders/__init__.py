"""Readers of formats whose article text has to be extracted rather than read as is (web pages,
PDF, Word). Each returns an :class:`Extracted`; :mod:`qa.ingest.load` turns it into a document, so
the rules about ids, problems and offsets live in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.types import Meta


class ExtractError(ValueError):
    """The file cannot give any article text; the message says why (encrypted, no text layer,
    broken file...)."""


@dataclass
class Extracted:
    """The text a format's library found and what the file says about itself (``meta``: an empty
    field is one the file does not state).

    ``text`` is what gets indexed and what every offset points into. ``page_starts`` holds the
    offset where each page begins (PDF only; empty otherwise)."""

    text: str
    meta: Meta = field(default_factory=Meta)
    author: str | None = None
    page_starts: list[int] = field(default_factory=list)
