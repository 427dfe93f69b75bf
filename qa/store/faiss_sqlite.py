"""FAISS for vectors, SQLite for everything else: the embedded default store.

Crash safety rests on one rule: SQLite is the source of truth. Every write is a single SQLite
transaction that also stores each chunk's vector and bumps a ``generation`` counter. The FAISS file
is a cache of those vectors, written to a temporary file and renamed into place, and
``manifest.json`` (also renamed into place) records which generation of which store it holds. A
crash at any point leaves either the old or the new SQLite state; on the next open, a FAISS file
whose generation, store or size disagrees with SQLite is rebuilt from the stored vectors (no
re-embedding), and temporary files of writers that died are removed.

A rebuild is one SQLite transaction in the same database file, never a swap of files or folders:
processes that have the index open (server workers) keep reading the old rows until it commits and
then pick up the new ones on their next ``refresh()``, and their writes land in the file that is
the index, not in a replaced one.

Several processes may open one index: writers take an exclusive file lock (waiting at most
``write_timeout`` seconds, then ``Busy``), and readers call ``refresh()`` to pick up another
process's writes when the generation moved.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import math
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from qa.errors import Busy, DocumentNotFound, IndexError_, IndexVersionMismatch, ModelMismatch
from qa.store.base import Hit, StoreConfig, StoredChunk, document_fingerprint
from qa.types import Chunk, Document, DocumentInfo, Filters

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DB_NAME = "store.sqlite3"
FAISS_NAME = "vectors.faiss"
MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".write.lock"
#: below this many chunks search is exact; above it the FAISS index is IVF-PQ (see ``_plan``)
EXACT_MAX_CHUNKS = 200_000

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
#: a list bound as one JSON parameter: SQLite caps the number of ``?`` in a statement
_IN_JSON = "IN (SELECT value FROM json_each(?))"
_CONFIG_KEYS = ("model", "model_fingerprint", "dimension", "chunk_tokens", "chunk_overlap")


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = _tmp_name(path)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Temporary files (``.<name>.<pid>.tmp``) of writers that are no longer running."""
    removed = []
    for tmp in directory.glob(".*.*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and (int(pid) == os.getpid() or not _pid_alive(int(pid))):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def _plan(n_chunks: int, dim: int, exact_max: int) -> dict[str, Any]:
    """The FAISS index for a corpus of this size: exact inner product while a scan is cheap,
    IVF-PQ beyond (compressed codes, and unlike HNSW it can delete)."""
    if n_chunks < exact_max:
        return {"type": "flat", "factory": "IDMap2,Flat"}
    nlist = int(min(65536, max(16, 4 * math.sqrt(n_chunks))))
    m = next(m for m in (dim // 8, dim // 4, dim // 2, dim) if m and dim % m == 0)
    return {
        "type": "ivfpq",
        "factory": f"IDMap2,IVF{nlist},PQ{m}",
        "nlist": nlist,
        "pq_m": m,
        "nprobe": min(nlist, 32),
        # candidates per wanted hit, re-scored exactly with the vectors SQLite keeps anyway
        "rerank": 4,
    }


class _Writer:
    """Collects one block's SQLite writes; FAISS is updated after the commit."""

    def __init__(self, store: FaissSqliteStore, dim: int) -> None:
        self.store = store
        self.dim = dim
        self.removed: list[int] = []
        self.added: list[int] = []
        self.vectors: list[np.ndarray] = []

    def add(self, docs: list[Document], chunks: list[Chunk], vectors: np.ndarray) -> None:
        db = self.store._db
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if len(vectors) and vectors.shape[1] != self.dim:
            raise ModelMismatch(f"vectors have dimension {vectors.shape[1]}, index has {self.dim}")
        ids = {d.id for d in docs}
        stray = {c.doc_id for c in chunks} - ids
        if stray:
            raise ValueError(f"chunks of documents not being added: {sorted(stray)[:5]}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        for doc in docs:
            self.removed += [
                r[0] for r in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc.id,))
            ]
            db.execute("DELETE FROM documents WHERE id = ?", (doc.id,))
            db.execute(
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
            cur = db.execute(
                "INSERT INTO chunks (doc_id, idx, start, end, vector) VALUES (?, ?, ?, ?, ?)",
                (chunk.doc_id, chunk.index, chunk.start, chunk.end, vec.tobytes()),
            )
            assert cur.lastrowid is not None
            self.added.append(cur.lastrowid)
        self.vectors.append(vectors)

    def delete(self, doc_id: str) -> int:
        db = self.store._db
        if not db.execute("SELECT 1 FROM documents WHERE id = ?", (doc_id,)).fetchone():
            raise DocumentNotFound(doc_id)
        removed = [r[0] for r in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        self.removed += removed
        return len(removed)


class FaissSqliteStore:
    """FAISS (exact, or IVF-PQ past ``exact_max`` chunks) plus SQLite rows, in one folder.

    ``config`` is required to create a store and ignored when opening one (the stored one is
    used; ``check`` compares). ``mmap`` maps an exact index's vectors from the file instead of
    reading them, so processes on one machine share those pages.
    """

    kind = "faiss"
    format_version = FORMAT_VERSION

    def __init__(
        self,
        directory: str | Path,
        config: StoreConfig | None = None,
        *,
        create: bool = False,
        exact_max: int = EXACT_MAX_CHUNKS,
        mmap: bool = False,
        write_timeout: float = 30.0,
    ):
        self.dir = Path(directory)
        self.exact_max = exact_max
        self.mmap = mmap
        self.write_timeout = write_timeout
        db_path = self.dir / DB_NAME
        if not db_path.exists():
            if not create or config is None:
                raise IndexError_(f"no index at {self.dir} (run `qa index` first)")
            self.dir.mkdir(parents=True, exist_ok=True)
        self._check_manifest_version()
        self._lock = threading.RLock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.executescript(_SCHEMA)
        self.config = self._init_meta(config)
        self.dim = self.config.dimension
        self._index: Any = None
        self._index_generation = -1
        self._index_identity = ""
        self._plan: dict[str, Any] = {}
        self._cleanup_temporaries()
        self._load_vectors()

    @classmethod
    def exists(cls, directory: Path) -> bool:
        return (Path(directory) / DB_NAME).exists()

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

    def _init_meta(self, config: StoreConfig | None) -> StoreConfig:
        meta = self._meta()
        if "format_version" not in meta:
            if config is None:
                raise IndexError_(f"no index at {self.dir} (run `qa index` first)")
            with self._transaction():
                self._write_meta(
                    {"format_version": FORMAT_VERSION, "generation": 0, **config.to_dict()}
                )
                self._new_identity()
            return config
        if meta["format_version"] != FORMAT_VERSION:
            raise IndexVersionMismatch(
                f"index at {self.dir} has format version {meta['format_version']}, this qa reads "
                f"version {FORMAT_VERSION}: rebuild it with `qa index --rebuild`"
            )
        return StoreConfig.from_dict(meta)

    def _write_meta(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def _new_identity(self) -> None:
        # "created" keeps its name: saved BM25 indexes of earlier versions are keyed on it
        self._write_meta({"created": f"{time.time()}-{uuid.uuid4().hex[:8]}"})

    def check(self, config: StoreConfig) -> None:
        stored, wanted = self.config, config
        if stored.dimension != wanted.dimension or (
            stored.model_fingerprint != wanted.model_fingerprint
        ):
            raise ModelMismatch(
                f"index at {self.dir} was built with embedding model {stored.model!r} "
                f"(dimension {stored.dimension}), but settings name {wanted.model!r} "
                f"(dimension {wanted.dimension}): use the same model or rebuild with "
                "`qa index --rebuild`"
            )

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
        """Exclusive across processes and threads, so two writers never interleave FAISS files.
        A writer waits at most ``write_timeout`` seconds for its turn."""
        deadline = time.monotonic() + self.write_timeout
        with open(self.dir / LOCK_NAME, "a") as fh:
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Busy(
                            f"another write to {self.dir} is in progress (waited "
                            f"{self.write_timeout:g}s); nothing was written, try again"
                        ) from None
                    time.sleep(0.05)
            try:
                with self._lock:
                    self._cleanup_temporaries()
                    self.refresh()
                    yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _cleanup_temporaries(self) -> None:
        for path in remove_stale_temporaries(self.dir):
            log.info("removed %s, left by a writer that stopped", path)

    def generation(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(json.loads(row[0])) if row else 0

    def identity(self) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'created'").fetchone()
        return str(row[0]) if row else ""

    def _load_vectors(self) -> None:
        with self._lock:
            # one read transaction: the generation, identity and rows agree with each other
            self._db.execute("BEGIN")
            try:
                generation, identity = self.generation(), self.identity()
                self.config = StoreConfig.from_dict(self._meta())
                self.dim = self.config.dimension
                n_chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
                manifest = self._read_manifest()
                path = self.dir / FAISS_NAME
                index = None
                if (
                    path.exists()
                    and manifest.get("generation") == generation
                    and manifest.get("store") in (identity, None)
                ):
                    try:
                        flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if self.mmap else 0
                        index = faiss.read_index(str(path), flags)
                    except RuntimeError as exc:
                        log.warning("unreadable %s (%s): rebuilding from SQLite", path, exc)
                if index is None or index.ntotal != n_chunks or index.d != self.dim:
                    if path.exists() or n_chunks:
                        log.warning(
                            "FAISS file at %s does not match SQLite generation %d (%d chunks): "
                            "rebuilding it from the stored vectors",
                            self.dir,
                            generation,
                            n_chunks,
                        )
                    self._index, self._plan = self._rebuild_index(n_chunks)
                    persist = True
                else:
                    self._index, self._plan = index, manifest.get("faiss_index") or {}
                    persist = False
            finally:
                self._db.execute("COMMIT")
            self._index_generation, self._index_identity = generation, identity
            if persist:
                self._persist_vectors()

    def _rebuild_index(self, n_chunks: int) -> tuple[Any, dict[str, Any]]:
        plan = _plan(n_chunks, self.dim, self.exact_max)
        index = faiss.index_factory(self.dim, plan["factory"], faiss.METRIC_INNER_PRODUCT)
        rows = "SELECT id, vector FROM chunks ORDER BY id"
        if not index.is_trained:
            # a random sample, so training sees the whole corpus and not its first documents
            sample = min(n_chunks, max(100_000, 40 * plan["nlist"]))
            vecs = [
                np.frombuffer(r[0], dtype=np.float32)
                for r in self._db.execute(
                    "SELECT vector FROM chunks ORDER BY random() LIMIT ?", (sample,)
                )
            ]
            index.train(np.vstack(vecs))
            faiss.extract_index_ivf(index).nprobe = plan["nprobe"]
        batch_ids: list[int] = []
        batch_vecs: list[np.ndarray] = []
        for cid, blob in self._db.execute(rows):
            batch_ids.append(cid)
            batch_vecs.append(np.frombuffer(blob, dtype=np.float32))
            if len(batch_ids) >= 10_000:
                index.add_with_ids(np.vstack(batch_vecs), np.array(batch_ids, dtype=np.int64))
                batch_ids, batch_vecs = [], []
        if batch_ids:
            index.add_with_ids(np.vstack(batch_vecs), np.array(batch_ids, dtype=np.int64))
        return index, plan

    def _read_manifest(self) -> dict[str, Any]:
        try:
            data = json.loads((self.dir / MANIFEST_NAME).read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def manifest(self) -> dict[str, Any]:
        """What ``manifest.json`` says about the vectors on disk (index type and parameters)."""
        return self._read_manifest()

    def _persist_vectors(self) -> None:
        """FAISS file first, manifest second: a manifest never names a generation whose vectors
        are not on disk."""
        _write_atomic(self.dir / FAISS_NAME, faiss.serialize_index(self._index).tobytes())
        docs, chunks = self.count()
        manifest = {
            "format_version": FORMAT_VERSION,
            "generation": self._index_generation,
            "store": self._index_identity,
            **self.config.to_dict(),
            "documents": docs,
            "chunks": chunks,
            "faiss_index": self._plan,
            "updated": time.time(),
        }
        _write_atomic(self.dir / MANIFEST_NAME, json.dumps(manifest, indent=2).encode())

    def refresh(self) -> bool:
        """Reload vectors if another process wrote since we last looked; True if it did."""
        with self._lock:
            if (self.generation(), self.identity()) == (
                self._index_generation,
                self._index_identity,
            ):
                return False
            self._load_vectors()
            return True

    # -- writes --------------------------------------------------------------------------------

    def writing(self) -> contextlib.AbstractContextManager[_Writer]:
        return self._writing(None, replace_all=False)

    def rebuilding(self, config: StoreConfig) -> contextlib.AbstractContextManager[_Writer]:
        return self._writing(config, replace_all=True)

    @contextlib.contextmanager
    def _writing(self, config: StoreConfig | None, replace_all: bool) -> Iterator[_Writer]:
        with self._write_lock():
            writer = _Writer(self, config.dimension if config else self.dim)
            with self._transaction():
                if replace_all:
                    self._db.execute("DELETE FROM chunks")
                    self._db.execute("DELETE FROM documents")
                    self._new_identity()
                    if config is not None:
                        self._write_meta(config.to_dict())
                yield writer
                generation = self.generation() + 1
                self._write_meta({"generation": generation})
            if config is not None:
                self.config, self.dim = config, config.dimension
            self._apply(writer, generation, rebuilt=replace_all)

    def add(self, docs: list[Document], chunks: list[Chunk], vectors: np.ndarray) -> None:
        with self.writing() as w:
            w.add(docs, chunks, vectors)

    def delete(self, doc_id: str) -> int:
        with self.writing() as w:
            return w.delete(doc_id)

    def _apply(self, writer: _Writer, generation: int, rebuilt: bool) -> None:
        """Mirror a committed SQLite write in memory and on disk. If this fails or the process
        dies here, the next open sees the generation mismatch and rebuilds from SQLite."""
        with self._lock:
            n_chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            grew_past_exact = self._plan.get("type") == "flat" and n_chunks >= self.exact_max
            if rebuilt or grew_past_exact or self.mmap:
                # a mapped index is read-only; past the threshold the index type changes
                self._index, self._plan = self._rebuild_index(n_chunks)
            else:
                if writer.removed:
                    self._index.remove_ids(np.array(writer.removed, dtype=np.int64))
                if writer.added:
                    self._index.add_with_ids(
                        np.vstack(writer.vectors), np.array(writer.added, dtype=np.int64)
                    )
            self._index_generation, self._index_identity = generation, self.identity()
            self._persist_vectors()

    # -- reads ---------------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int, allowed: set[int] | None = None) -> list[Hit]:
        with self._lock:
            if self._index.ntotal == 0 or k <= 0 or (allowed is not None and not allowed):
                return []
            query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
            sel = None
            if allowed is not None:
                sel = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64))
            if self._plan.get("type") == "ivfpq":
                params: Any = faiss.SearchParametersIVF(  # type: ignore[call-arg]
                    sel=sel, nprobe=self._plan["nprobe"]
                )
            else:
                params = faiss.SearchParameters(sel=sel) if sel else None  # type: ignore[call-arg]
            wanted = k * int(self._plan.get("rerank", 1))
            scores, ids = self._index.search(query, min(wanted, self._index.ntotal), params=params)
            hits = [Hit(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
            if wanted > k:
                hits = self._rerank(query[0], hits)[:k]
        return hits

    def _rerank(self, query: np.ndarray, hits: list[Hit]) -> list[Hit]:
        """Exact inner products for approximate candidates (PQ codes blur close neighbours)."""
        rows = self._db.execute(
            f"SELECT id, vector FROM chunks WHERE id {_IN_JSON}",
            (json.dumps([h.chunk_id for h in hits]),),
        ).fetchall()
        exact = [Hit(int(i), float(np.frombuffer(v, dtype=np.float32) @ query)) for i, v in rows]
        return sorted(exact, key=lambda h: (-h.score, h.chunk_id))

    def count(self) -> tuple[int, int]:
        with self._lock:
            docs = self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    def chunks(self) -> Iterator[StoredChunk]:
        """Selecting the whole document per chunk would hold each article's text once per chunk
        in memory; ``_CHUNK_ROWS`` has SQLite slice it."""
        with self._lock:
            rows = self._db.execute(f"{_CHUNK_ROWS} ORDER BY c.doc_id, c.idx").fetchall()
        for cid, doc_id, idx, start, end, text in rows:
            yield StoredChunk(cid, Chunk(doc_id, idx, start, end, text))

    def get_chunks(self, ids: list[int]) -> dict[int, Chunk]:
        if not ids:
            return {}
        with self._lock:
            rows = self._db.execute(
                f"{_CHUNK_ROWS} WHERE c.id {_IN_JSON}", (json.dumps([int(i) for i in ids]),)
            ).fetchall()
        return {r[0]: Chunk(r[1], r[2], r[3], r[4], r[5]) for r in rows}

    def chunk_ids(self, filters: Filters) -> set[int]:
        where, args = [], []
        if filters.doc_ids:
            where.append(f"d.id {_IN_JSON}")
            args.append(json.dumps(list(filters.doc_ids)))
        if filters.sources:
            # Sources are matched case-insensitively: "tass" and "TASS" are the same agency.
            where.append(f"lower(d.source) {_IN_JSON}")
            args.append(json.dumps([s.lower() for s in filters.sources]))
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

    def fingerprint(self, doc: Document) -> str:
        return document_fingerprint(doc)

    def fingerprints(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT id, fingerprint FROM documents").fetchall())

    def meta(self) -> dict[str, Any]:
        with self._lock:
            return self._meta()

    def close(self) -> None:
        with self._lock:
            self._db.close()
