"""What the two SQL stores (FAISS + SQLite, PostgreSQL + pgvector) share: the checks every write
makes, the format version check, a document's row and a chunk's, the reads of the documents table,
the model check and the one-write shortcuts. Each store keeps its own schema, connection, chunks
table and SQL dialect: it names its tables in ``tables``, its placeholder in ``_param`` and runs
statements in ``_rows``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from qa.errors import DocumentNotFound, IndexVersionMismatch, ModelMismatch
from qa.store.base import StoreConfig, StoredChunk, document_fingerprint
from qa.types import Chunk, Document, DocumentInfo, Filters, Meta

#: the documents table's columns, in the order of ``document_row``
DOCUMENT_COLUMNS = "id, title, source, date, url, path, text, content, fingerprint, added"


def checked_vectors(
    docs: list[Document], chunks: list[Chunk], vectors: np.ndarray, dim: int
) -> np.ndarray:
    """``vectors`` as contiguous float32 once the write is known to be whole and of this index's
    dimension: nothing is written otherwise."""
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    if len(vectors) and vectors.shape[1] != dim:
        raise ModelMismatch(f"vectors have dimension {vectors.shape[1]}, index has {dim}")
    stray = {c.doc_id for c in chunks} - {d.id for d in docs}
    if stray:
        raise ValueError(f"chunks of documents not being added: {sorted(stray)[:5]}")
    return np.ascontiguousarray(vectors, dtype=np.float32)


def document_row(doc: Document, content: Any) -> tuple[Any, ...]:
    """The values of ``DOCUMENT_COLUMNS``; ``content`` is ``doc.content`` as the driver wants
    JSON (a string for SQLite, a ``Jsonb`` for PostgreSQL)."""
    meta = dataclasses.astuple(doc.meta)  # title, source, date, url, path
    return (doc.id, *meta, doc.text, content, document_fingerprint(doc), time.time())


def check_version(found: Any, version: int, index: str) -> None:
    """``IndexVersionMismatch`` unless the stored format ``found`` is the ``version`` this code
    reads; ``index`` names the index and its kind of version ("index at DIR has format version").
    """
    if found != version:
        raise IndexVersionMismatch(
            f"{index} {found}, this qa reads version {version}: rebuild it with "
            "`qa index --rebuild`"
        )


def stored_chunk(row: Any) -> StoredChunk:
    """A chunk from its row: id, document id, position, start, end, text."""
    cid, doc_id, idx, start, end, text = row
    return StoredChunk(cid, Chunk(doc_id, idx, start, end, text))


class DocumentRows:
    """Reads of the documents table, and the parts of the ``Store`` protocol that are the same
    SQL on both stores."""

    config: StoreConfig
    tables: dict[str, str]
    _param: str

    def _rows(self, sql: str, args: Any = ()) -> list[Any]:
        raise NotImplementedError

    def _where(self) -> str:
        """Where the index is, for messages."""
        raise NotImplementedError

    def _one_of(self, column: str, values: list[str]) -> tuple[str, Any]:
        """SQL that ``column`` is one of ``values``, and its one argument."""
        raise NotImplementedError

    def _filtered(
        self, filters: Filters, doc_id: str, source: str, date: str
    ) -> tuple[str, list[Any]]:
        """`` WHERE ...`` (or nothing) and its arguments, keeping the rows ``filters`` allow, on
        these columns."""
        where: list[str] = []
        args: list[Any] = []
        if filters.doc_ids:
            clause, arg = self._one_of(doc_id, list(filters.doc_ids))
            where.append(clause)
            args.append(arg)
        if filters.sources:
            # Sources are matched case-insensitively: "tass" and "TASS" are the same agency.
            clause, arg = self._one_of(f"lower({source})", [s.lower() for s in filters.sources])
            where.append(clause)
            args.append(arg)
        for bound, op in ((filters.date_from, ">="), (filters.date_to, "<=")):
            if bound:
                where.append(f"{date} {op} {self._param}")
                args.append(bound)
        return (" WHERE " + " AND ".join(where) if where else ""), args

    def writing(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def add(self, docs: list[Document], chunks: list[Chunk], vectors: np.ndarray) -> None:
        with self.writing() as w:
            w.add(docs, chunks, vectors)

    def delete(self, doc_id: str) -> int:
        with self.writing() as w:
            return int(w.delete(doc_id))

    def check(self, config: StoreConfig) -> None:
        stored = self.config
        if (stored.dimension, stored.model_fingerprint) != (
            config.dimension,
            config.model_fingerprint,
        ):
            if (stored.model, stored.dimension) == (config.model, config.dimension):
                # the same name, other vectors: other weights, another backend (QA_EMBED_BACKEND)
                # or a new build of the shipped ONNX encoder
                raise ModelMismatch(
                    f"{self._where()} was built with another encoder of embedding model "
                    f"{stored.model!r} ({stored.model_fingerprint}) than this one makes "
                    f"({config.model_fingerprint}): its vectors do not compare; rebuild it with "
                    "`qa index --rebuild`"
                )
            raise ModelMismatch(
                f"{self._where()} was built with embedding model {stored.model!r} (dimension "
                f"{stored.dimension}), but settings name {config.model!r} (dimension "
                f"{config.dimension}): use the same model or rebuild with `qa index --rebuild`"
            )

    def get_document(self, doc_id: str) -> Document:
        rows = self._rows(
            "SELECT id, text, title, source, date, url, path, content FROM "
            f"{self.tables['documents']} WHERE id = {self._param}",
            (doc_id,),
        )
        if not rows:
            raise DocumentNotFound(doc_id)
        r = rows[0]
        content = json.loads(r[7]) if isinstance(r[7], str) else r[7]  # jsonb arrives parsed
        spans = [(int(a), int(b)) for a, b in content]
        return Document(r[0], r[1], Meta(*r[2:7]), spans)

    def _infos(self, doc_id: str | None = None) -> list[DocumentInfo]:
        t = self.tables
        where, args = (f"WHERE d.id = {self._param}", (doc_id,)) if doc_id is not None else ("", ())
        rows = self._rows(
            "SELECT d.id, d.title, d.source, d.date, d.url, d.path, length(d.text), "
            f"(SELECT count(*) FROM {t['chunks']} c WHERE c.doc_id = d.id) "
            f"FROM {t['documents']} d {where} ORDER BY d.id",
            args,
        )
        return [DocumentInfo(r[0], Meta(*r[1:6]), int(r[6]), int(r[7])) for r in rows]

    def documents(self) -> list[DocumentInfo]:
        return self._infos()

    def document_info(self, doc_id: str) -> DocumentInfo:
        infos = self._infos(doc_id)
        if not infos:
            raise DocumentNotFound(doc_id)
        return infos[0]

    def fingerprint(self, doc: Document) -> str:
        return document_fingerprint(doc)

    def fingerprints(self) -> dict[str, str]:
        return dict(self._rows(f"SELECT id, fingerprint FROM {self.tables['documents']}"))
