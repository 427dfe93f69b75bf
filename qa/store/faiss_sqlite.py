"""FAISS for vectors, SQLite for everything else: the embedded default store.

Crash safety rests on one rule: SQLite is the source of truth. Every write is a single SQLite
transaction that also stores each chunk's vector and bumps a ``generation`` counter. The FAISS file
is a cache of those vectors, written to a temporary file and renamed into place, and
``manifest.json`` (also renamed into place) records which generation it holds. A crash at any point
leaves either the old or the new SQLite state; on the next open, a FAISS file whose generation or
size disagrees with SQLite is rebuilt from the stored vectors (no re-embedding).

Several processes (gunicorn workers) may open one index: writers take an exclusive file lock, and
readers call ``refresh()`` to pick up another process's writes when the generation moved.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import faiss
import numpy as np

from qa.errors import DocumentNotFound, IndexError_, IndexVersionMismatch, ModelMismatch
from qa.store.base import StoredChunk
from qa.types import Chunk, Document, DocumentInfo, Filters

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DB_NAME = "store.sqlite3"
FAISS_NAME = "vectors.faiss"
MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".write.lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source TEXT,
    date TEXT,
    url TEXT,
    path TEXT,
    text TEXT NOT NULL,
    content TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
CREATE INDEX IF NOT EXISTS documents_date ON documents(date);
"""
#: chunk rows with their text, sliced by SQLite from the document's (stored once, not per chunk);
#: ``substr`` counts characters, as Python's offsets do
_CHUNK_ROWS = (
    "SELECT c.id, c.doc_id, c.idx, c.start, c.end, substr(d.text, c.start + 1, c.end - c.start) "
    "FROM chunks c JOIN documents d ON d.id = c.doc_id"
)


def document_fingerprint(doc: Document) -> str:
    """What decides whether re-indexing a document can be skipped."""
    import hashlib

    h = hashlib.sha256()
    for part in (doc.text, doc.title, doc.source or "", doc.date or "", doc.url or ""):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class FaissSqliteStore:
    """Exact inner-product search (``IndexFlatIP`` under an id map) plus SQLite rows.

    ``config`` (model identity, dimension, chunking settings) is stored at creation; opening an
    index with a different model identity or dimension raises ``ModelMismatch`` rather than
    silently mixing vector spaces.
    """

    def __init__(self, directory: str | Path, config: dict[str, Any], *, create: bool = True):
        self.dir = Path(directory)
        self.config = dict(config)
        self.dim = int(config["dimension"])
        db_path = self.dir / DB_NAME
        if not db_path.exists():
            if not create:
                raise IndexError_(f"no index at {self.dir} (run `qa index` first)")
            self.dir.mkdir(parents=True, exist_ok=True)
        self._check_manifest_version()
        self._lock = threading.RLock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.executescript(_SCHEMA)
        self._init_meta()
        self._index: faiss.IndexIDMap2
        self._index_generation = -1
        self._load_vectors()

    # -- opening -------------------------------------------------------------------------------

    def _check_manifest_version(self) -> None:
        manifest = self.dir / MANIFEST_NAME
        if not manifest.exists():
            return
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError) as exc:
            log.warning("unreadable %s (%s): will be rewritten from SQLite", manifest, exc)
            return
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexVersionMismatch(
                f"index at {self.dir} has format version {version}, this qa reads version "
                f"{FORMAT_VERSION}: rebuild it with `qa index --rebuild`"
            )

    def _init_meta(self) -> None:
        meta = self._meta()
        if "format_version" not in meta:
            with self._transaction():
                for key, value in {
                    "format_version": FORMAT_VERSION,
                    "generation": 0,
                    "created": time.time(),
                    **self.config,
                }.items():
                    self._db.execute(
                        "INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value))
                    )
            return
        if meta["format_version"] != FORMAT_VERSION:
            raise IndexVersionMismatch(
                f"index at {self.dir} has format version {meta['format_version']}, this qa reads "
                f"version {FORMAT_VERSION}: rebuild it with `qa index --rebuild`"
            )
        stored_model = meta.get("model_fingerprint")
        wanted_model = self.config.get("model_fingerprint")
        if int(meta.get("dimension", -1)) != self.dim or (
            stored_model and wanted_model and stored_model != wanted_model
        ):
            raise ModelMismatch(
                f"index at {self.dir} was built with embedding model {meta.get('model')!r} "
                f"(dimension {meta.get('dimension')}), but settings name "
                f"{self.config.get('model')!r} (dimension {self.dim}): use the same model or "
                "rebuild with `qa index --rebuild`"
            )
        # Chunking settings of the stored index win: new documents must be chunked alike.
        for key in ("chunk_tokens", "chunk_overlap"):
            if key in meta:
                self.config[key] = meta[key]

    def _meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM meta")}

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Exclusive across processes, so two writers never interleave FAISS files."""
        with self._lock, open(self.dir / LOCK_NAME, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                self.refresh()
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def generation(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(json.loads(row[0])) if row else 0

    def identity(self) -> str:
        """The creation time stored with the index: generations start again in a new store."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'created'").fetchone()
        return str(row[0]) if row else ""

    def _load_vectors(self) -> None:
        generation = self.generation()
        n_chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        manifest = self._read_manifest()
        path = self.dir / FAISS_NAME
        index = None
        if path.exists() and manifest.get("generation") == generation:
            try:
                index = faiss.read_index(str(path))
            except RuntimeError as exc:
                log.warning("unreadable %s (%s): rebuilding from SQLite", path, exc)
        if index is None or index.ntotal != n_chunks or index.d != self.dim:
            if path.exists() or n_chunks:
                log.warning(
                    "FAISS file at %s does not match SQLite generation %d (%d chunks): rebuilding "
                    "it from the stored vectors",
                    self.dir,
                    generation,
                    n_chunks,
                )
            rebuilt = self._rebuild_index()
            self._index = rebuilt
            self._index_generation = generation
            self._persist_vectors(generation)
        else:
            self._index = cast(faiss.IndexIDMap2, index)
            self._index_generation = generation

    def _rebuild_index(self) -> faiss.IndexIDMap2:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        batch_ids: list[int] = []
        batch_vecs: list[np.ndarray] = []
        for cid, blob in self._db.execute("SELECT id, vector FROM chunks ORDER BY id"):
            batch_ids.append(cid)
            batch_vecs.append(np.frombuffer(blob, dtype=np.float32))
            if len(batch_ids) >= 10_000:
                index.add_with_ids(np.vstack(batch_vecs), np.array(batch_ids, dtype=np.int64))
                batch_ids, batch_vecs = [], []
        if batch_ids:
            index.add_with_ids(np.vstack(batch_vecs), np.array(batch_ids, dtype=np.int64))
        return index

    def _read_manifest(self) -> dict[str, Any]:
        try:
            data = json.loads((self.dir / MANIFEST_NAME).read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _persist_vectors(self, generation: int) -> None:
        """FAISS file first, manifest second: a manifest never names a generation whose vectors
        are not on disk."""
        _write_atomic(self.dir / FAISS_NAME, faiss.serialize_index(self._index).tobytes())
        docs, chunks = self.count()
        meta = self._meta()
        manifest = {
            "format_version": FORMAT_VERSION,
            "generation": generation,
            "model": meta.get("model"),
            "model_fingerprint": meta.get("model_fingerprint"),
            "dimension": self.dim,
            "chunk_tokens": meta.get("chunk_tokens"),
            "chunk_overlap": meta.get("chunk_overlap"),
            "documents": docs,
            "chunks": chunks,
            "faiss_index": "IndexIDMap2(IndexFlatIP)",
            "updated": time.time(),
        }
        _write_atomic(self.dir / MANIFEST_NAME, json.dumps(manifest, indent=2).encode())

    def refresh(self) -> bool:
        """Reload vectors if another process wrote since we last looked; True if it did."""
        with self._lock:
            if self.generation() == self._index_generation:
                return False
            self._load_vectors()
            return True

    # -- writes --------------------------------------------------------------------------------

    def add(self, docs: list[Document], chunks: list[Chunk], vectors: np.ndarray) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if len(vectors) and vectors.shape[1] != self.dim:
            raise ModelMismatch(f"vectors have dimension {vectors.shape[1]}, index has {self.dim}")
        ids = {d.id for d in docs}
        stray = {c.doc_id for c in chunks} - ids
        if stray:
            raise ValueError(f"chunks of documents not being added: {sorted(stray)[:5]}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._write_lock():
            removed: list[int] = []
            added: list[int] = []
            with self._transaction():
                for doc in docs:
                    removed += [
                        r[0]
                        for r in self._db.execute(
                            "SELECT id FROM chunks WHERE doc_id = ?", (doc.id,)
                        )
                    ]
                    self._db.execute("DELETE FROM documents WHERE id = ?", (doc.id,))
                    self._db.execute(
                        "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            doc.id,
                            doc.title,
                            doc.source,
                            doc.date,
                            doc.url,
                            doc.path,
                            doc.text,
                            json.dumps(doc.content),
                            document_fingerprint(doc),
                            time.time(),
                        ),
                    )
                for chunk, vec in zip(chunks, vectors, strict=True):
                    cur = self._db.execute(
                        "INSERT INTO chunks (doc_id, idx, start, end, vector) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (chunk.doc_id, chunk.index, chunk.start, chunk.end, vec.tobytes()),
                    )
                    assert cur.lastrowid is not None
                    added.append(cur.lastrowid)
                generation = self._bump_generation()
            self._apply(removed, added, vectors, generation)

    def delete(self, doc_id: str) -> int:
        with self._write_lock():
            with self._transaction():
                if not self._db.execute(
                    "SELECT 1 FROM documents WHERE id = ?", (doc_id,)
                ).fetchone():
                    raise DocumentNotFound(doc_id)
                removed = [
                    r[0]
                    for r in self._db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))
                ]
                self._db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
                generation = self._bump_generation()
            self._apply(removed, [], np.zeros((0, self.dim), np.float32), generation)
            return len(removed)

    def _bump_generation(self) -> int:
        generation = self.generation() + 1
        self._db.execute(
            "UPDATE meta SET value = ? WHERE key = 'generation'", (json.dumps(generation),)
        )
        return generation

    def _apply(self, removed: list[int], added: list[int], vectors: np.ndarray, gen: int) -> None:
        """Mirror a committed SQLite write in memory and on disk. If this fails or the process
        dies here, the next open sees the generation mismatch and rebuilds from SQLite."""
        if removed:
            self._index.remove_ids(np.array(removed, dtype=np.int64))  # type: ignore[arg-type]
        if added:
            self._index.add_with_ids(vectors, np.array(added, dtype=np.int64))
        self._index_generation = gen
        self._persist_vectors(gen)

    # -- reads ---------------------------------------------------------------------------------

    def search(
        self, vector: np.ndarray, k: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        with self._lock:
            if self._index.ntotal == 0 or k <= 0 or (allowed is not None and not allowed):
                return []
            query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
            params = None
            if allowed is not None:
                sel = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64))
                params = faiss.SearchParameters(sel=sel)  # type: ignore[call-arg]
            scores, ids = self._index.search(query, min(k, self._index.ntotal), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def count(self) -> tuple[int, int]:
        with self._lock:
            docs = self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    def chunks(self) -> Iterator[StoredChunk]:
        """Every chunk in document order, text sliced from its document (stored once, not twice).

        Selecting the whole document per chunk would hold each article's text once per chunk in
        memory; ``_CHUNK_ROWS`` has SQLite slice it."""
        with self._lock:
            rows = self._db.execute(f"{_CHUNK_ROWS} ORDER BY c.doc_id, c.idx").fetchall()
        for cid, doc_id, idx, start, end, text in rows:
            yield StoredChunk(cid, Chunk(doc_id, idx, start, end, text))

    def get_chunks(self, ids: list[int]) -> dict[int, Chunk]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(f"{_CHUNK_ROWS} WHERE c.id IN ({marks})", ids).fetchall()
        return {r[0]: Chunk(r[1], r[2], r[3], r[4], r[5]) for r in rows}

    def chunk_ids(self, filters: Filters) -> set[int]:
        where, args = [], []
        if filters.doc_ids:
            where.append(f"d.id IN ({','.join('?' * len(filters.doc_ids))})")
            args += filters.doc_ids
        if filters.sources:
            # Sources are matched case-insensitively: "tass" and "TASS" are the same agency.
            where.append(f"lower(d.source) IN ({','.join('?' * len(filters.sources))})")
            args += [s.lower() for s in filters.sources]
        if filters.date_from:
            where.append("d.date >= ?")
            args.append(filters.date_from)
        if filters.date_to:
            where.append("d.date <= ?")
            args.append(filters.date_to)
        sql = "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            return {r[0] for r in self._db.execute(sql, args)}

    def get_document(self, doc_id: str) -> Document:
        with self._lock:
            row = self._db.execute(
                "SELECT id, text, title, source, date, url, path, content FROM documents "
                "WHERE id = ?",
                (doc_id,),
            ).fetchone()
        if row is None:
            raise DocumentNotFound(doc_id)
        content = [(int(a), int(b)) for a, b in json.loads(row[7])]
        return Document(row[0], row[1], row[2], row[3], row[4], row[5], row[6], content)

    def _infos(self, where: str = "", args: tuple[Any, ...] = ()) -> list[DocumentInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT d.id, d.title, d.source, d.date, d.url, d.path, length(d.text), "
                "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id) FROM documents d "
                f"{where} ORDER BY d.id",
                args,
            ).fetchall()
        return [DocumentInfo(*r) for r in rows]

    def documents(self) -> list[DocumentInfo]:
        return self._infos()

    def document_info(self, doc_id: str) -> DocumentInfo:
        infos = self._infos("WHERE d.id = ?", (doc_id,))
        if not infos:
            raise DocumentNotFound(doc_id)
        return infos[0]

    def fingerprints(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT id, fingerprint FROM documents").fetchall())

    def meta(self) -> dict[str, Any]:
        with self._lock:
            return self._meta()

    def close(self) -> None:
        with self._lock:
            self._db.close()
