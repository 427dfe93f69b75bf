"""Extractive question answering over your own articles, with citations.

from qa import QAService
svc = QAService()                      # settings from QA_* env vars, seeds/ and index/ by default
svc.ensure_index()
result = svc.ask("Who is the chairman of the Tskhinvali parliament?")
print(result.answer.text, result.answer.citations[0].doc_id)
"""

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
