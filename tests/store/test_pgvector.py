"""What only the pgvector store has: the threads of one process share a pool of connections, in a
real PostgreSQL started by the session (``postgres_url``)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from store.helpers import CONFIG, add, make_doc, vectors_for

from qa.retrieve import Retriever
from qa.retrieve.lexical import PREFIX
from qa.store.pgvector import PgVectorStore


@pytest.fixture
def store(postgres_url: str) -> Iterator[PgVectorStore]:
    s = PgVectorStore(
        postgres_url, CONFIG, create=True, prefix=f"p{uuid.uuid4().hex[:10]}_", pool_size=4
    )
    yield s
    s.close()


def test_reads_go_on_while_another_thread_holds_a_write_open(store: PgVectorStore):
    """With one connection per process, a long write block (a rebuild embeds inside it) held up
    every search of that process until it committed."""
    a = add(store, "a")
    seen: list[object] = []

    def read() -> None:
        seen.append(store.count())
        seen.append(store.search(vectors_for(a)[0], 1)[0].score)

    with store.writing() as w:
        doc, chunks = make_doc("b")
        w.add([doc], chunks, vectors_for(chunks))
        reader = threading.Thread(target=read)
        reader.start()
        reader.join(20)
        assert not reader.is_alive(), "a read waited for the write block"
    assert seen[0] == (1, 3)  # the write was not committed yet
    assert seen[1] == pytest.approx(1.0, abs=1e-4)
    assert store.count() == (2, 6)


def test_many_threads_search_and_write_through_a_bounded_pool(store: PgVectorStore):
    docs = [add(store, f"d{i}", 2) for i in range(6)]
    errors: list[BaseException] = []
    wrong: list[str] = []

    def search(n: int) -> None:
        try:
            for i in range(20):
                chunks = docs[(n + i) % len(docs)]
                hit = store.search(vectors_for(chunks)[0], 3)[0]
                if store.get_chunks([hit.chunk_id])[hit.chunk_id] != chunks[0]:
                    wrong.append(chunks[0].text)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def write() -> None:
        try:
            for i in range(5):
                add(store, f"new{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=search, args=(n,)) for n in range(8)]
    threads.append(threading.Thread(target=write))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and not wrong
    assert store.count() == (11, 12 + 15)
    stats = store._connections.stats()
    # nine threads were served by more than one connection, never by more than the pool's size
    assert 2 <= stats["pool_size"] <= 4


def test_a_replica_saves_its_bm25_index_in_an_index_dir_it_has_not_made_yet(
    store: PgVectorStore, tmp_path: Path
):
    """With pgvector nothing else lives in QA_INDEX_DIR, so nothing had created it: every worker
    rebuilt BM25 from PostgreSQL instead of loading the first one's save."""
    add(store, "a")
    replica = tmp_path / "replica" / "index"
    Retriever(store, None, lexical_dir=replica).sync()  # type: ignore[arg-type]
    assert [p.name.startswith(PREFIX) for p in replica.iterdir()] == [True]
    again = Retriever(store, None, lexical_dir=replica)  # type: ignore[arg-type]
    again.sync()
    assert again.lexical.source == "loaded"


def _indexes(store: PgVectorStore) -> dict[str, str]:
    with store._connections.connection() as conn:
        rows = conn.execute(
            "SELECT indexname, tablename FROM pg_indexes WHERE tablename LIKE %s",
            (store.tables["chunks"].replace("_", r"\_") + "%",),
        ).fetchall()
    return dict(rows)


def _plan(store: PgVectorStore, vector: object) -> str:
    c = store.tables["chunks"]
    with store._connections.connection() as conn, conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")  # a tiny table: make the choice visible
        rows = conn.execute(
            f"EXPLAIN SELECT id FROM {c} ORDER BY embedding <=> %s LIMIT 3", (vector,)
        ).fetchall()
    return "\n".join(r[0] for r in rows)


def test_the_hnsw_graph_is_built_once_over_the_first_write_and_again_by_each_rebuild(
    store: PgVectorStore,
):
    """The graph is built in bulk (CREATE INDEX over loaded rows), not grown row by row; a
    rebuild loads new tables and swaps them in under the live names, so a second rebuild (and
    the one after it) finds every name free again."""
    c = store.tables["chunks"]
    assert f"{c}_hnsw" not in _indexes(store)  # an empty store has no graph yet
    a = add(store, "a")
    expected = {f"{c}_pkey", f"{c}_hnsw", f"{c}_doc", f"{c}_source", f"{c}_date"}
    assert set(_indexes(store)) == expected
    assert f"{c}_hnsw" in _plan(store, vectors_for(a)[0])
    wider = CONFIG.__class__(**(CONFIG.to_dict() | {"dimension": 16}))
    for round_, config in enumerate([CONFIG, wider, CONFIG]):
        dim = config.dimension
        with store.rebuilding(config) as w:
            doc, chunks = make_doc(f"r{round_}", 2)
            vectors = np.zeros((2, dim), np.float32)
            vectors[:, :8] = vectors_for(chunks)
            w.add([doc], chunks, vectors)
        assert set(_indexes(store)) == expected, round_
        assert {t for t in _indexes(store).values()} == {c}
        assert store.count() == (1, 2) and store.dim == dim
        assert f"{c}_hnsw" in _plan(store, vectors[0])
        hits = store.search(vectors[0], 2)
        assert store.get_chunks([hits[0].chunk_id])[hits[0].chunk_id] == chunks[0]
    add(store, "after")  # the swapped tables take writes: the id sequence came along
    assert store.count() == (2, 5)
    with store._connections.connection() as conn:
        leftovers = conn.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE %s", (f"{c}\\_next%",)
        ).fetchall()
    assert leftovers == []


def test_a_build_memory_that_is_not_a_size_is_refused_before_anything_is_written(
    postgres_url: str,
):
    for bad in ("1 GB; DROP TABLE x", "lots", "0MB", "2TB"):
        with pytest.raises(ValueError, match="build memory"):
            PgVectorStore(postgres_url, CONFIG, create=True, prefix="never_", build_memory=bad)
    assert not PgVectorStore.exists(postgres_url, prefix="never_")
