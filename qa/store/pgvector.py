"""PostgreSQL + pgvector: the store for many app servers and corpora past one machine's FAISS.

One row per chunk holds its text, offsets, the document's filterable metadata (source, date) and
its vector, so nothing can drift apart; documents (full text, title, fingerprint) live in a second
table written in the same transaction. Searches use an HNSW index (cosine); filters are SQL
``WHERE`` clauses. Every write is one transaction that also bumps the ``generation`` row: the lock
on that row serializes writers across all app servers (a writer that waits longer than
``write_timeout`` gets ``Busy``), and readers see a write whole or not at all.

The threads of one process share a pool of connections (``pool_size``): each search, read or write
block borrows one for its duration, so searches go on while another thread holds a write open,
and a slow query holds up only its own thread. While the server cannot be reached, every call
fails within ``store_timeout`` seconds (mostly at once) with ``StoreUnavailable``, and the first
call after it is back is served (``qa.store.pg_connections``). A write is acknowledged only once
its commit is durable on the server; one that fails, or whose commit went unanswered, raises.

The service creates the schema and records its version in the meta table; a schema of another
version is refused with the rebuild command, as the embedded store does.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

from qa.errors import Busy, DocumentNotFound, IndexError_, StoreUnavailable
from qa.store.base import Hit, StoreConfig, StoredChunk
from qa.store.pg_connections import PgConnections, connect, translated
from qa.store.sql import (
    DOCUMENT_COLUMNS,
    DocumentRows,
    check_version,
    checked_vectors,
    document_row,
    stored_chunk,
)
from qa.types import Chunk, Document, Filters

FORMAT_VERSION = 1
#: HNSW graph parameters (pgvector's defaults); the candidate list grows with k at query time
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
#: ``maintenance_work_mem`` of the write that builds the HNSW graph (``QA_PG_BUILD_MEMORY``): a
#: graph that outgrows it is finished on disk, page by page, many times slower
BUILD_MEMORY = "1GB"
#: seconds to reach the server and to borrow a connection (``QA_STORE_TIMEOUT``); a search may
#: run this long too
STORE_TIMEOUT = 3.0
#: the search's candidate list (``QA_PG_EF_SEARCH``): pgvector's default of 40 missed a third of
#: the true neighbours at 100k embedding-like vectors (README, Scaling)
EF_SEARCH = 200


def _connections(url: str, size: int, timeout: float) -> PgConnections:
    """Connections with pgvector's types, once the extension exists."""
    try:
        import psycopg_pool  # noqa: F401
        from pgvector.psycopg import register_vector
    except ImportError as exc:  # pragma: no cover - the optional extra is missing
        raise IndexError_(
            "QA_STORE=pgvector needs the PostgreSQL driver: pip install 'qa[scale]'"
        ) from exc
    # the extension first: register_vector looks its type up on every new connection
    with connect(url, timeout) as conn, translated():
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return PgConnections(url, size, timeout, configure=register_vector)


def _redact(url: str) -> str:
    return re.sub(r"://([^:@/]*):[^@/]*@", r"://\1:***@", url)


class _Writer:
    def __init__(self, conn: Any, tables: dict[str, str], dim: int) -> None:
        self.conn = conn  # the write block's connection, inside its transaction
        self.tables = tables  # the live tables, or a rebuild's new ones
        self.dim = dim

    def add(self, docs: list[Document], chunks: list[Chunk], vectors: np.ndarray) -> None:
        from psycopg.types.json import Jsonb

        t, conn = self.tables, self.conn
        vectors = checked_vectors(docs, chunks, vectors, self.dim)
        by_id = {d.id: d for d in docs}
        with conn.cursor() as cur:
            cur.execute(f"DELETE FROM {t['documents']} WHERE id = ANY(%s)", (list(by_id),))
            cur.executemany(
                f"INSERT INTO {t['documents']} ({DOCUMENT_COLUMNS}) "
                f"VALUES ({', '.join(['%s'] * 10)})",
                [document_row(d, Jsonb(d.content)) for d in docs],
            )
            copy_sql = (
                f"COPY {t['chunks']} (doc_id, idx, start_char, end_char, text, source, date, "
                "embedding) FROM STDIN WITH (FORMAT BINARY)"
            )
            with cur.copy(copy_sql) as copy:
                copy.set_types(["text", "int4", "int4", "int4", "text", "text", "text", "vector"])
                for chunk, vec in zip(chunks, vectors, strict=True):
                    doc = by_id[chunk.doc_id]
                    copy.write_row(
                        (
                            chunk.doc_id,
                            chunk.index,
                            chunk.start,
                            chunk.end,
                            chunk.text,
                            doc.source,
                            doc.date,
                            vec,
                        )
                    )

    def delete(self, doc_id: str) -> int:
        t, conn = self.tables, self.conn
        n = conn.execute(f"SELECT count(*) FROM {t['chunks']} WHERE doc_id = %s", (doc_id,))
        chunks = int(n.fetchone()[0])
        cur = conn.execute(f"DELETE FROM {t['documents']} WHERE id = %s", (doc_id,))
        if cur.rowcount == 0:
            raise DocumentNotFound(doc_id)
        return chunks


class PgVectorStore(DocumentRows):
    """``url``: a libpq connection string; ``prefix`` names this store's tables, so several
    indexes can share one database; ``pool_size``: connections this process's threads share;
    ``store_timeout``: seconds before an unreachable or silent server is ``StoreUnavailable``."""

    kind = "pgvector"
    format_version = FORMAT_VERSION
    _param = "%s"

    def __init__(
        self,
        url: str,
        config: StoreConfig | None = None,
        *,
        create: bool = False,
        prefix: str = "qa_",
        write_timeout: float = 30.0,
        pool_size: int = 4,
        ef_search: int = EF_SEARCH,
        build_memory: str = BUILD_MEMORY,
        store_timeout: float = STORE_TIMEOUT,
    ) -> None:
        if store_timeout <= 0:
            raise ValueError(f"store timeout {store_timeout!r}: a number of seconds above 0")
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", prefix):
            raise ValueError(f"table prefix {prefix!r}: lower-case letters, digits and _ only")
        if not re.fullmatch(r"[1-9][0-9]{0,6}(kB|MB|GB)", build_memory):
            raise ValueError(f"build memory {build_memory!r}: a size such as 512MB or 2GB")
        self.build_memory = build_memory
        self.url = url
        self.write_timeout = write_timeout
        self.store_timeout = store_timeout
        #: HNSW candidate list of a search (raised to k when k is larger): recall against speed
        self.ef_search = ef_search
        self.tables = {n: f"{prefix}{n}" for n in ("meta", "documents", "chunks")}
        # guards only what is cached here (configuration, last generation seen)
        self._lock = threading.Lock()
        self._connections = _connections(url, pool_size, store_timeout)
        self._seen_generation = -1
        try:
            self.config = self._open(config, create)
        except BaseException:
            self._connections.close()
            raise
        self.dim = self.config.dimension
        self._seen_generation = self.generation()

    @classmethod
    def exists(cls, url: str, prefix: str = "qa_", timeout: float = STORE_TIMEOUT) -> bool:
        with connect(url, timeout) as conn, translated():
            row = conn.execute("SELECT to_regclass(%s)", (f"{prefix}meta",)).fetchone()
            if row is None or row[0] is None:
                return False
            row = conn.execute(
                f"SELECT 1 FROM {prefix}meta WHERE key = 'format_version'"
            ).fetchone()
            return row is not None

    # -- schema --------------------------------------------------------------------------------

    def _open(self, config: StoreConfig | None, create: bool) -> StoreConfig:
        t = self.tables
        with self._connections.connection() as conn, conn.transaction():
            # replicas starting together: one creates the schema, the others then find it
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (t["meta"],))
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {t['meta']} (key text PRIMARY KEY, value jsonb)"
            )
            meta = self._meta(conn)
            if "format_version" not in meta:
                if not create or config is None:
                    raise IndexError_(f"no index in {_redact(self.url)} (run `qa index` first)")
                self._create_tables(conn, config.dimension, self.tables)
                self._write_meta(conn, {"format_version": FORMAT_VERSION, "generation": 0})
                self._write_meta(conn, config.to_dict() | {"created": _new_identity()})
                return config
        index = f"the index in {_redact(self.url)} has schema version"
        check_version(meta["format_version"], FORMAT_VERSION, index)
        return StoreConfig.from_dict(meta)

    def _create_tables(self, conn: Any, dim: int, t: dict[str, str]) -> None:
        conn.execute(
            f"""
            CREATE TABLE IF NOT EXISTS {t["documents"]} (
                id text PRIMARY KEY, title text NOT NULL, source text, date text, url text,
                path text, text text NOT NULL, content jsonb NOT NULL, fingerprint text NOT NULL,
                added double precision NOT NULL)"""
        )
        conn.execute(
            f"""
            CREATE TABLE IF NOT EXISTS {t["chunks"]} (
                id bigserial PRIMARY KEY,
                doc_id text NOT NULL REFERENCES {t["documents"]}(id) ON DELETE CASCADE,
                idx int NOT NULL, start_char int NOT NULL, end_char int NOT NULL,
                text text NOT NULL, source text, date text,
                embedding vector({int(dim)}) NOT NULL)"""
        )
        # the b-tree indexes; the HNSW graph comes with the first write (``_index_vectors``)
        c = t["chunks"]
        conn.execute(f"CREATE INDEX IF NOT EXISTS {c}_doc ON {c} (doc_id)")
        conn.execute(f"CREATE INDEX IF NOT EXISTS {c}_source ON {c} (lower(source))")
        conn.execute(f"CREATE INDEX IF NOT EXISTS {c}_date ON {c} (date)")

    def _index_vectors(self, conn: Any, c: str) -> None:
        """Build the HNSW graph of chunk table ``c`` if it has none: at the end of the first
        write, or of a rebuild. One ``CREATE INDEX`` over the loaded rows builds the graph in
        memory, in bulk, where inserting rows into an existing graph one by one is an order of
        magnitude slower (bench/scale.py). It blocks other writers only; searches meanwhile read
        the last committed rows. Later writes add to the graph."""
        if conn.execute("SELECT to_regclass(%s)", (f"{c}_hnsw",)).fetchone()[0] is not None:
            return
        conn.execute(f"SET LOCAL maintenance_work_mem = '{self.build_memory}'")
        conn.execute(
            f"CREATE INDEX {c}_hnsw ON {c} USING hnsw (embedding vector_cosine_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
        )

    def _swap(self, conn: Any, new: dict[str, str]) -> None:
        """Replace the live tables with a rebuild's ``new`` ones, renaming their indexes and id
        sequence to the live names (the next rebuild reuses the ``new`` names)."""
        t = self.tables
        conn.execute(f"DROP TABLE {t['chunks']}, {t['documents']}")
        for n in ("documents", "chunks"):
            for (index,) in conn.execute(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = %s::regclass",
                (new[n],),
            ).fetchall():
                conn.execute(f"ALTER INDEX {index} RENAME TO {index.replace(new[n], t[n], 1)}")
            conn.execute(f"ALTER TABLE {new[n]} RENAME TO {t[n]}")
        sequence = conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (t["chunks"],))
        conn.execute(f"ALTER SEQUENCE {sequence.fetchone()[0]} RENAME TO {t['chunks']}_id_seq")

    def _meta(self, conn: Any) -> dict[str, Any]:
        return dict(conn.execute(f"SELECT key, value FROM {self.tables['meta']}").fetchall())

    def _write_meta(self, conn: Any, values: dict[str, Any]) -> None:
        from psycopg.types.json import Jsonb

        conn.cursor().executemany(
            f"INSERT INTO {self.tables['meta']} VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(k, Jsonb(v)) for k, v in values.items()],
        )

    def _where(self) -> str:
        return f"the index in {_redact(self.url)}"

    # -- writes --------------------------------------------------------------------------------

    def writing(self) -> contextlib.AbstractContextManager[_Writer]:
        return self._writing(None)

    def rebuilding(self, config: StoreConfig) -> contextlib.AbstractContextManager[_Writer]:
        return self._writing(config)

    @contextlib.contextmanager
    def _writing(self, rebuild: StoreConfig | None) -> Iterator[_Writer]:
        try:
            with self._connections.connection() as conn, conn.transaction():
                yield from self._write(conn, rebuild)
        except StoreUnavailable as exc:
            raise StoreUnavailable(
                "the index cannot be reached right now, so this write was not confirmed (it may "
                "or may not have been saved): send it again in a few seconds"
            ) from exc
        if rebuild is not None:
            with self._lock:
                self.config, self.dim = rebuild, rebuild.dimension

    def _write(self, conn: Any, rebuild: StoreConfig | None) -> Iterator[_Writer]:
        """The write block inside its transaction."""
        import psycopg

        t = self.tables
        # acknowledged means durable: a server run with synchronous_commit off would
        # otherwise answer a commit that a crash can still undo
        conn.execute("SET LOCAL synchronous_commit = on")
        conn.execute(f"SET LOCAL lock_timeout = '{int(self.write_timeout * 1000)}ms'")
        try:
            row = conn.execute(
                f"SELECT value FROM {t['meta']} WHERE key = 'generation' FOR UPDATE"
            ).fetchone()
        except psycopg.errors.LockNotAvailable:
            raise Busy(
                f"another write to the index is in progress (waited {self.write_timeout:g}s);"
                " nothing was written, try again"
            ) from None
        conn.execute("SET LOCAL lock_timeout = 0")
        if rebuild is None:
            yield _Writer(conn, t, self.dim)
            self._index_vectors(conn, t["chunks"])
        else:
            # New tables, loaded and indexed out of sight, then swapped for the old ones at
            # commit: searches read the old contents meanwhile, and the new graph is built in
            # bulk rather than grown among the old rows' dead entries.
            new = {n: f"{t[n]}_next" for n in ("documents", "chunks")}
            for name in (new["chunks"], new["documents"]):
                conn.execute(f"DROP TABLE IF EXISTS {name} CASCADE")
            self._create_tables(conn, rebuild.dimension, new)
            yield _Writer(conn, new, rebuild.dimension)
            self._index_vectors(conn, new["chunks"])
            self._swap(conn, new)
            self._write_meta(conn, rebuild.to_dict() | {"created": _new_identity()})
        self._write_meta(conn, {"generation": int(row[0]) + 1})

    # -- reads ---------------------------------------------------------------------------------

    def _rows(self, sql: str, args: Any = ()) -> list[Any]:
        with self._connections.connection() as conn:
            return list(conn.execute(sql, args).fetchall())

    def generation(self) -> int:
        rows = self._rows(f"SELECT value FROM {self.tables['meta']} WHERE key = 'generation'")
        return int(rows[0][0]) if rows else 0

    def identity(self) -> str:
        rows = self._rows(f"SELECT value FROM {self.tables['meta']} WHERE key = 'created'")
        return str(rows[0][0]) if rows else ""

    def refresh(self) -> bool:
        """Nothing is cached but the configuration, so this only notices a move (a rebuild may
        bring another configuration)."""
        generation = self.generation()
        if generation == self._seen_generation:
            return False
        with self._connections.connection() as conn:
            config = StoreConfig.from_dict(self._meta(conn))
        with self._lock:
            self.config, self.dim = config, config.dimension
            self._seen_generation = generation
        return True

    def search(self, vector: np.ndarray, k: int, allowed: set[int] | None = None) -> list[Hit]:
        if k <= 0 or (allowed is not None and not allowed):
            return []
        c = self.tables["chunks"]
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        args: list[Any]
        where, args = "", [query]
        if allowed is not None:  # a list (not a numpy array: that would be sent as a vector)
            where, args = "WHERE id = ANY(%s)", [query, sorted(allowed)]
        with self._connections.connection() as conn, conn.transaction():
            # HNSW returns at most ef_search rows; iterative scans keep going past filtered-out
            # rows instead of returning fewer than k
            conn.execute(f"SET LOCAL statement_timeout = '{int(self.store_timeout * 1000)}ms'")
            conn.execute(f"SET LOCAL hnsw.ef_search = {max(int(self.ef_search), int(k))}")
            conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")
            rows = conn.execute(
                f"SELECT id, embedding <=> %s AS d FROM {c} {where} ORDER BY d LIMIT {int(k)}",
                args,
            ).fetchall()
        return [Hit(int(i), 1.0 - float(d)) for i, d in rows]

    def count(self) -> tuple[int, int]:
        t = self.tables
        rows = self._rows(
            f"SELECT (SELECT count(*) FROM {t['documents']}), (SELECT count(*) FROM {t['chunks']})"
        )
        return int(rows[0][0]), int(rows[0][1])

    def chunks(self) -> Iterator[StoredChunk]:
        rows = self._rows(
            f"SELECT id, doc_id, idx, start_char, end_char, text FROM {self.tables['chunks']} "
            "ORDER BY doc_id, idx"
        )
        yield from map(stored_chunk, rows)

    def get_chunks(self, ids: list[int]) -> dict[int, Chunk]:
        if not ids:
            return {}
        rows = self._rows(
            f"SELECT id, doc_id, idx, start_char, end_char, text FROM {self.tables['chunks']} "
            "WHERE id = ANY(%s)",
            ([int(i) for i in ids],),
        )
        return {st.id: st.chunk for st in map(stored_chunk, rows)}

    def chunk_ids(self, filters: Filters) -> set[int]:
        where, args = self._filtered(filters, "doc_id", "source", "date")
        return {r[0] for r in self._rows(f"SELECT id FROM {self.tables['chunks']}{where}", args)}

    def _one_of(self, column: str, values: list[str]) -> tuple[str, Any]:
        return f"{column} = ANY(%s)", values

    def close(self) -> None:
        self._connections.close()


def _new_identity() -> str:
    return f"{time.time()}-{uuid.uuid4().hex[:8]}"
