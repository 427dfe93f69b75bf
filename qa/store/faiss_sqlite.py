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

from qa.errors import Busy, DocumentNotFound, IndexError_
from qa.store import sql
from qa.store.base import Hit, StoreConfig, StoredChunk
from qa.types import Chunk, Document, Filters

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DB_NAME = "store.sqlite3"
FAISS_NAME = "vectors.faiss"
MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".write.lock"
#: below this many chunks search is exact; above it the FAISS index is an HNSW graph (``_plan``)
EXACT_MAX_CHUNKS = 200_000
#: the large-corpus index: graph degree, candidate lists while building and searching, and how
#: many candidates per wanted hit are re-scored exactly with the vectors SQLite keeps
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 256
RERANK = 2
#: a graph cannot forget a vector: deleted chunks stay in it, masked from results, until they are
#: this share of it, and the next write then rebuilds it from SQLite
MAX_DEAD_SHARE = 0.2
#: a filter that leaves at most this many chunks is answered exactly from their stored vectors
#: (a graph walk that may only stop at a few nodes can miss them)
EXACT_FILTER_MAX = 20_000
PLAN_TYPES = ("flat", "hnsw")

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
    """The FAISS index for a corpus of this size: exact inner product while a scan is cheap; past
    ``exact_max`` an HNSW graph over 8-bit scalar-quantized vectors (a quarter of the float
    vectors' bytes, plus the graph's links), whose candidates are re-scored exactly.

    Not IVF-PQ, the earlier choice: on embedding-like vectors (a low-rank signal plus noise,
    ``bench/scale.py``) near neighbours fall in different IVF cells, so its recall stayed low
    unless a large share of the cells was scanned, and PQ codes blurred the order of what was
    found; a graph walk finds them at a small cost per query (figures in the README). What HNSW
    lacks is deletion, hence ``MAX_DEAD_SHARE``."""
    if n_chunks < exact_max:
        return {"type": "flat", "factory": "IDMap2,Flat"}
    return {
        "type": "hnsw",
        "factory": f"IDMap2,HNSW{HNSW_M},SQ8",
        "m": HNSW_M,
        "ef_construction": HNSW_EF_CONSTRUCTION,
        "ef_search": HNSW_EF_SEARCH,
        "rerank": RERANK,
        "max_dead_share": MAX_DEAD_SHARE,
        "exact_filter_max": EXACT_FILTER_MAX,
    }


def _hnsw(index: Any) -> Any:
    """The graph inside an ``IDMap2`` wrapper."""
    wrapper: Any = faiss.downcast_index(index)
    graph: Any = faiss.downcast_index(wrapper.index)
    return graph.hnsw


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
        vectors = sql.checked_vectors(docs, chunks, vectors, self.dim)
        for doc in docs:
            self.removed += [
                r[0] for r in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc.id,))
            ]
            db.execute("DELETE FROM documents WHERE id = ?", (doc.id,))
            db.execute(
                f"INSERT INTO documents ({sql.DOCUMENT_COLUMNS}) VALUES ({', '.join('?' * 10)})",
                sql.document_row(doc, json.dumps(doc.content)),
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


class FaissSqliteStore(sql.DocumentRows):
    """FAISS (exact, or HNSW past ``exact_max`` chunks) plus SQLite rows, in one folder.

    ``config`` is required to create a store and ignored when opening one (the stored one is
    used; ``check`` compares). ``mmap`` maps the index's vectors (the exact floats, or the
    graph's 8-bit codes) from the file instead of reading them, so processes on one machine share
    those pages.
    """

    kind = "faiss"
    format_version = FORMAT_VERSION
    _param = "?"

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
        self.tables = {n: n for n in ("meta", "documents", "chunks")}
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
        self._set_dead(set())
        self._cleanup_temporaries()
        self._load_vectors()

    @classmethod
    def exists(cls, directory: Path) -> bool:
        """A database whose configuration was written: a first ``qa index`` killed between
        creating the file and committing its configuration leaves a database that is not an
        index yet (opening it needs a configuration, as creating one does)."""
        db = Path(directory) / DB_NAME
        if not db.exists():
            return False
        try:
            with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
                row = conn.execute("SELECT 1 FROM meta WHERE key = 'format_version'").fetchone()
        except sqlite3.Error:  # no meta table yet, or not a database: not an index
            return False
        return row is not None

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
        sql.check_version(data.get("format_version"), FORMAT_VERSION, self._versioned())

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
        sql.check_version(meta["format_version"], FORMAT_VERSION, self._versioned())
        return StoreConfig.from_dict(meta)

    def _versioned(self) -> str:
        return f"index at {self.dir} has format version"

    def _write_meta(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def _new_identity(self) -> None:
        # "created" keeps its name: saved BM25 indexes of earlier versions are keyed on it
        self._write_meta({"created": f"{time.time()}-{uuid.uuid4().hex[:8]}"})

    def _where(self) -> str:
        return f"index at {self.dir}"

    def _rows(self, statement: str, args: Any = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(statement, args).fetchall()

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
                            "another write to the index is in progress (waited "
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
                plan = manifest.get("faiss_index") or {}
                path = self.dir / FAISS_NAME
                index, dead = None, None
                if (
                    path.exists()
                    and manifest.get("generation") == generation
                    and manifest.get("store") in (identity, None)
                    and plan.get("type") in PLAN_TYPES  # else an index type of an earlier qa
                ):
                    try:
                        index = faiss.read_index(str(path), self._read_flags())
                    except RuntimeError as exc:
                        log.warning("unreadable %s (%s): rebuilding from SQLite", path, exc)
                if index is not None and index.d == self.dim:
                    dead = self._dead_ids(index, plan, n_chunks)
                if dead is None:
                    if path.exists() or n_chunks:
                        log.warning(
                            "FAISS file at %s does not match SQLite generation %d (%d chunks): "
                            "rebuilding it from the stored vectors",
                            self.dir,
                            generation,
                            n_chunks,
                        )
                    self._index, self._plan = self._rebuild_index(n_chunks)
                    self._set_dead(set())
                    persist = True
                else:
                    self._index, self._plan = index, plan
                    self._set_dead(dead)
                    persist = False
            finally:
                self._db.execute("COMMIT")
            self._index_generation, self._index_identity = generation, identity
            if persist:
                self._persist_vectors()

    def _read_flags(self) -> int:
        # a mapped index is read-only: writes apply to a copy read whole (see ``_apply``)
        return faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if self.mmap else 0

    def _dead_ids(self, index: Any, plan: dict[str, Any], n_chunks: int) -> set[int] | None:
        """Ids the index holds whose chunks are gone (a graph's deleted vectors), or None if it
        lacks a stored chunk and must be rebuilt."""
        if plan.get("type") != "hnsw":
            return set() if index.ntotal == n_chunks else None
        wrapper: Any = faiss.downcast_index(index)
        held = faiss.vector_to_array(wrapper.id_map)
        stored = np.fromiter((r[0] for r in self._db.execute("SELECT id FROM chunks")), np.int64)
        if not np.isin(stored, held).all():
            return None
        return {int(i) for i in np.setdiff1d(held, stored)}

    def _set_dead(self, dead: set[int]) -> None:
        """Deleted chunks still in the graph, and the selector that masks them from searches."""
        self._dead = dead
        self._live_selector: Any = None
        if dead:
            batch = faiss.IDSelectorBatch(np.fromiter(dead, dtype=np.int64))
            self._live_selector = faiss.IDSelectorNot(batch)
            self._live_selector.referenced = batch  # the C++ object only points at it

    def _rebuild_index(self, n_chunks: int) -> tuple[Any, dict[str, Any]]:
        plan = _plan(n_chunks, self.dim, self.exact_max)
        index = faiss.index_factory(self.dim, plan["factory"], faiss.METRIC_INNER_PRODUCT)
        rows = "SELECT id, vector FROM chunks ORDER BY id"
        if not index.is_trained:
            # a random sample, so training sees the whole corpus and not its first documents
            vecs = [
                np.frombuffer(r[0], dtype=np.float32)
                for r in self._db.execute(
                    "SELECT vector FROM chunks ORDER BY random() LIMIT ?", (100_000,)
                )
            ]
            index.train(np.vstack(vecs))
        if plan["type"] == "hnsw":
            _hnsw(index).efConstruction = plan["ef_construction"]
            _hnsw(index).efSearch = plan["ef_search"]
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

    def _apply(self, writer: _Writer, generation: int, rebuilt: bool) -> None:
        """Mirror a committed SQLite write in memory and on disk. If this fails or the process
        dies here, the next open sees the generation mismatch and rebuilds from SQLite."""
        with self._lock:
            n_chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            kind = self._plan.get("type")
            grew_past_exact = kind == "flat" and n_chunks >= self.exact_max
            dead = self._dead | set(writer.removed) if kind == "hnsw" else set()
            too_dead = len(dead) > self._plan.get("max_dead_share", 1.0) * max(1, n_chunks)
            if rebuilt or grew_past_exact or too_dead:
                # past the threshold the index type changes; a graph sheds its deleted vectors
                self._index, self._plan = self._rebuild_index(n_chunks)
                dead = set()
            else:
                if self.mmap:  # the mapped file is read-only: change a copy read whole
                    self._index = faiss.read_index(str(self.dir / FAISS_NAME))
                if writer.removed and kind != "hnsw":
                    self._index.remove_ids(np.array(writer.removed, dtype=np.int64))
                if writer.added:
                    self._index.add_with_ids(
                        np.vstack(writer.vectors), np.array(writer.added, dtype=np.int64)
                    )
            self._set_dead(dead)
            self._index_generation, self._index_identity = generation, self.identity()
            self._persist_vectors()
            if self.mmap:
                self._index = faiss.read_index(str(self.dir / FAISS_NAME), self._read_flags())

    # -- reads ---------------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int, allowed: set[int] | None = None) -> list[Hit]:
        _one_openmp_thread()
        with self._lock:
            if self._index.ntotal == 0 or k <= 0 or (allowed is not None and not allowed):
                return []
            query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
            graph = self._plan.get("type") == "hnsw"
            if graph and allowed is not None and len(allowed) <= self._plan["exact_filter_max"]:
                return self._exact(query[0], list(allowed))[:k]
            sel = None
            if allowed is not None:  # ids from SQLite: none of them is deleted
                sel = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64))
            elif graph:
                sel = self._live_selector
            wanted = k * int(self._plan.get("rerank", 1))
            if graph:
                params: Any = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
                    sel=sel, efSearch=max(self._plan["ef_search"], wanted)
                )
            else:
                params = faiss.SearchParameters(sel=sel) if sel else None  # type: ignore[call-arg]
            scores, ids = self._index.search(query, min(wanted, self._index.ntotal), params=params)
            hits = [Hit(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
            if wanted > k:
                hits = self._exact(query[0], [h.chunk_id for h in hits])[:k]
        return hits

    def _exact(self, query: np.ndarray, ids: list[int]) -> list[Hit]:
        """Exact inner products with the stored vectors of these chunks, best first (8-bit codes
        blur the order of close neighbours)."""
        rows = self._db.execute(
            f"SELECT id, vector FROM chunks WHERE id {_IN_JSON}", (json.dumps(ids),)
        ).fetchall()
        if not rows:
            return []
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        exact = [Hit(int(r[0]), float(s)) for r, s in zip(rows, vecs @ query, strict=True)]
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
        yield from map(sql.stored_chunk, rows)

    def get_chunks(self, ids: list[int]) -> dict[int, Chunk]:
        if not ids:
            return {}
        with self._lock:
            rows = self._db.execute(
                f"{_CHUNK_ROWS} WHERE c.id {_IN_JSON}", (json.dumps([int(i) for i in ids]),)
            ).fetchall()
        return {st.id: st.chunk for st in map(sql.stored_chunk, rows)}

    def chunk_ids(self, filters: Filters) -> set[int]:
        where, args = self._filtered(filters, "d.id", "d.source", "d.date")
        query = f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id{where}"
        with self._lock:
            return {r[0] for r in self._db.execute(query, args)}

    def _one_of(self, column: str, values: list[str]) -> tuple[str, Any]:
        return f"{column} {_IN_JSON}", json.dumps(values)

    def meta(self) -> dict[str, Any]:
        with self._lock:
            return self._meta()

    def close(self) -> None:
        with self._lock:
            self._db.close()


_threads = threading.local()


def _one_openmp_thread() -> None:
    """One query is too small to split across cores: FAISS would start an OpenMP team for every
    search, and its threads spin at each barrier, costing far more CPU than the search itself
    (milliseconds instead of microseconds, and worse when the cores are busy). The setting is
    per thread (each server thread sets it once), so bulk work elsewhere keeps its threads."""
    if not getattr(_threads, "set", False):
        faiss.omp_set_num_threads(1)
        _threads.set = True
