"""The narrow store interface every backend implements, and the records that cross it.

A store keeps documents, their chunks and one vector per chunk, and answers nearest-neighbour
queries. Lexical (BM25) retrieval is built by the retriever from ``chunks()``, so a backend only has
to be good at vectors and rows.

Contracts every backend keeps (``tests/store/`` checks them on each backend):

- **Generations.** Every committed write (one ``writing()`` block) moves ``generation()`` forward by
  one. A reader sees either all of a write or none of it; a failed or interrupted write leaves the
  previous generation untouched. ``identity()`` names one store's life: with ``generation()`` it
  names one state, which is what caches kept beside the store are keyed on.
- **Writers.** Writes from any number of threads and processes are serialized. A writer that cannot
  get its turn within the store's wait raises ``Busy`` (HTTP 409) and writes nothing.
- **Opening.** Opening an existing store needs no model: its configuration (model, dimension,
  chunking) is read from the store. ``check(config)`` refuses a different model or dimension before
  any vector of another space is written or searched.
- **Ids.** Chunk ids are integers assigned by the store, never reused for a different chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from qa.types import Chunk, Document, DocumentInfo, Filters, Serializable


@dataclass(frozen=True)
class StoredChunk:
    """A chunk with its store-assigned integer id (stable until its document is replaced)."""

    id: int
    chunk: Chunk


@dataclass(frozen=True)
class Hit(Serializable):
    """One nearest-neighbour result: a chunk id and its cosine similarity (higher is closer)."""

    chunk_id: int
    score: float

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hit:
        return cls(int(data["chunk_id"]), float(data["score"]))


@dataclass(frozen=True)
class StoreConfig(Serializable):
    """What the vectors and chunks of a store were made with; fixed at creation, replaced only by
    a rebuild. New documents are chunked with the store's settings, not the caller's."""

    model: str
    model_fingerprint: str
    dimension: int
    chunk_tokens: int
    chunk_overlap: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoreConfig:
        return cls(
            model=str(data["model"]),
            model_fingerprint=str(data.get("model_fingerprint") or data["model"]),
            dimension=int(data["dimension"]),
            chunk_tokens=int(data["chunk_tokens"]),
            chunk_overlap=int(data["chunk_overlap"]),
        )


def document_fingerprint(doc: Document) -> str:
    """What decides whether re-indexing a document can be skipped: its text and metadata."""
    import hashlib

    h = hashlib.sha256()
    for part in (doc.text, doc.title, doc.source or "", doc.date or "", doc.url or ""):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


class StoreWriter(Protocol):
    """The writes of one ``Store.writing()`` block; they become visible together when it ends."""

    def add(self, docs: list[Document], chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Add documents with their chunks and one vector per chunk, replacing any document with
        the same id (its old chunks go). ``chunks`` may only belong to ``docs``."""
        ...

    def delete(self, doc_id: str) -> int:
        """Remove a document and its chunks; the number of chunks removed. ``DocumentNotFound``
        if there is no such document (the block then writes nothing unless caught)."""
        ...


@runtime_checkable
class Store(Protocol):
    #: the store's own configuration (read from the store once it exists)
    config: StoreConfig
    #: backend name and on-disk / schema format version, for ``/healthz`` and error messages
    kind: str
    format_version: int

    def check(self, config: StoreConfig) -> None:
        """Raise ``ModelMismatch`` unless vectors made with ``config``'s model fit this store."""
        ...

    def writing(self) -> AbstractContextManager[StoreWriter]:
        """One atomic write: everything done through the yielded writer is committed as one new
        generation when the block ends, or not at all if it raises. Holds the store's write turn
        for the whole block, so prepare (chunk, embed) before entering it."""
        ...

    def rebuilding(self, config: StoreConfig) -> AbstractContextManager[StoreWriter]:
        """``writing()`` that starts from an empty store made with ``config`` (another model may
        be named): readers keep the old contents until the block commits, then see only the new
        ones, under a new ``identity()``. A failed rebuild leaves the old store as it was."""
        ...

    def add(self, docs: list[Document], chunks: list[Chunk], vectors: np.ndarray) -> None:
        """``writing()`` with one ``add``."""
        ...

    def delete(self, doc_id: str) -> int:
        """``writing()`` with one ``delete``."""
        ...

    def search(self, vector: np.ndarray, k: int, allowed: set[int] | None = None) -> list[Hit]:
        """Up to ``k`` nearest chunks, best first, optionally only among ``allowed`` chunk ids
        (an empty set finds nothing). Approximate indexes may miss some true neighbours."""
        ...

    def count(self) -> tuple[int, int]:
        """``(documents, chunks)``."""
        ...

    def generation(self) -> int:
        """The number of the last committed write (0 for a new store)."""
        ...

    def identity(self) -> str:
        """Fixed for the store's life, new when it is created again or rebuilt."""
        ...

    def refresh(self) -> bool:
        """Pick up writes committed by other processes; True if the generation moved."""
        ...

    def chunks(self) -> Iterator[StoredChunk]:
        """Every chunk, ordered by document id then position, with its text."""
        ...

    def get_chunks(self, ids: list[int]) -> dict[int, Chunk]:
        """The chunks among ``ids`` that still exist (deleted ones are left out, not an error)."""
        ...

    def chunk_ids(self, filters: Filters) -> set[int]:
        """Ids of the chunks whose documents pass ``filters`` (sources case-insensitive, dates
        compared as ISO strings, bounds included)."""
        ...

    def get_document(self, doc_id: str) -> Document:
        """The document as added; ``DocumentNotFound`` if there is none."""
        ...

    def documents(self) -> list[DocumentInfo]:
        """Every document, ordered by id."""
        ...

    def document_info(self, doc_id: str) -> DocumentInfo:
        """``DocumentNotFound`` if there is none."""
        ...

    def fingerprint(self, doc: Document) -> str:
        """What this store records for ``doc``: equal to ``fingerprints()[doc.id]`` exactly when
        adding ``doc`` again would change nothing."""
        ...

    def fingerprints(self) -> dict[str, str]:
        """``{document id: fingerprint}`` for every stored document."""
        ...

    def close(self) -> None: ...
