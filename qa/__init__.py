"""Extractive question answering over your own articles, with citations.

from qa import QAService
svc = QAService()                      # settings from QA_* env vars, seeds/ and index/ by default
svc.ensure_index()
result = svc.ask("Who is the chairman of the Tskhinvali parliament?")
print(result.answer.text, result.answer.citations[0].doc_id)

One package per stage of ``load -> clean -> chunk -> embed -> store -> retrieve -> read -> cite
-> respond``, layered so that a module imports only the layers below its own (pyproject.toml's
import-linter contract; each package's docstring says what it owns):

    cli                                   the ``qa`` command
    train                                 training, export, calibration
    eval | web                            ``qa eval``; the HTTP service
    service                               QAService, the facade
    pipeline                              the stages wired from one Settings
    cite                                  answers with citations
    read | retrieve                       the reader; dense + BM25 retrieval
    index                                 chunk, embed, the write path
    ingest | store                        load and clean; the stores
    text                                  sentences, pages, answer words, input checks
    cores | errors | imports | settings | types
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.service import QAService
    from qa.settings import Settings
    from qa.types import (
        Answer,
        Chunk,
        Citation,
        Document,
        DocumentInfo,
        Filters,
        IndexReport,
        Passage,
        Result,
    )

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "Document",
    "DocumentInfo",
    "Filters",
    "IndexReport",
    "Passage",
    "QAService",
    "Result",
    "Settings",
    "__version__",
]


# Resolved on first use, so that ``python -m qa.train`` and other tools that import one module
# of the package do not load the service's stores and their native libraries.
_LAZY = {"QAService": "qa.service", "Settings": "qa.settings"}


def __getattr__(name: str) -> Any:
    if name in __all__ and name != "__version__":
        import importlib

        module = importlib.import_module(_LAZY.get(name, "qa.types"))
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
