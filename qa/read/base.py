"""The reader interface: find answer spans for a question in retrieved passages.

A reader is configured in ``__init__`` (cheap, no model loading) and loads its models in
``warm_up``, once per process; ``read`` calls ``warm_up`` itself when needed.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from qa.types import Passage, ReaderOutput


@runtime_checkable
class Reader(Protocol):
    #: short name shown in results and /healthz, e.g. "transformer:qa/models/reader"
    name: str
    #: score under which the reader's best span is not an answer (calibrated, in [0, 1])
    default_threshold: float

    def warm_up(self) -> None: ...

    def read(self, question: str, passages: list[Passage], top_n: int = 10) -> ReaderOutput:
        """Candidate spans (document offsets, text copied from the passage), best first, with a
        calibrated ``score`` in [0, 1] each, and ``no_answer`` in [0, 1]."""
        ...
