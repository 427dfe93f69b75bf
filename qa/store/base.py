"""The narrow store interface every backend implements.

A store keeps documents, their chunks and one vector per chunk, and answers nearest-neighbour
queries. Lexical (BM25) retrieval is built by the retriever from ``chunks()``, so a backend only has
to be good at vectors and rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from qa.types import Chunk, Document, DocumentInfo, Filters


@dataclass(frozen=True)
class StoredChunk:
    """A chunk with its store-assigned integer id (stable until its document is replaced)."""

    id: int
    chunk: Chunk


@runtime_checkable
class Store(Protocol):
    def add(self, docs: list[Document], chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Add documents, replacing any with the same id, in one atomic write."""
        ...

    def delete(self, doc_id: str) -> int:
        """Remove a document and all its chunks; returns the number of chunks removed."""
        ...

    def search(
        self, vector: np.ndarray, k: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """``(chunk id, inner product)`` best first, optionally only among ``allowed`` ids."""
        ...

    def count(self) -> tuple[int, int]:
        """``(documents, chunks)``."""
        ...

    # Reads the pipeline needs besides the four verbs above.
    def generation(self) -> int: ...

    def identity(self) -> str:
        """Fixed for the store's life, new when it is created again: with ``generation()`` it
        names one state of one store, which is what caches kept beside it are keyed on."""
        ...

    def refresh(self) -> bool: ...

    def chunks(self) -> Iterator[StoredChunk]: ...

    def get_chunks(self, ids: list[int]) -> dict[int, Chunk]: ...

    def chunk_ids(self, filters: Filters) -> set[int]: ...

    def get_document(self, doc_id: str) -> Document: ...

    def documents(self) -> list[DocumentInfo]: ...

    def document_info(self, doc_id: str) -> DocumentInfo: ...

    def fingerprints(self) -> dict[str, str]: ...

    def close(self) -> None: ...
