"""What only the embedded store has: its files, what survives a crash mid-write, leftovers of dead
writers, and the FAISS index type by corpus size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from store.helpers import CONFIG, DIM, add, make_doc, vectors_for

from qa.errors import IndexVersionMismatch
from qa.store import StoreConfig
from qa.store.faiss_sqlite import FAISS_NAME, MANIFEST_NAME, FaissSqliteStore
from qa.types import Chunk, Document, Filters


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "idx"


def test_manifest_describes_the_vectors_on_disk(path: Path):
    s = FaissSqliteStore(path, CONFIG, create=True)
    add(s, "a")
    manifest = json.loads((path / MANIFEST_NAME).read_text())
    assert manifest["chunks"] == 3 and manifest["dimension"] == DIM
    assert manifest["generation"] == 1 and manifest["store"] == s.identity()
    assert manifest["faiss_index"] == {"type": "flat", "factory": "IDMap2,Flat"}


def test_other_format_version_is_refused(path: Path):
    s = FaissSqliteStore(path, CONFIG, create=True)
    add(s, "a")
    s.close()
    manifest = path / MANIFEST_NAME
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"format_version": 999}))
    with pytest.raises(IndexVersionMismatch, match="999"):
        FaissSqliteStore(path)


def test_a_database_killed_before_its_configuration_was_committed_is_not_an_index(path: Path):
    """A first `qa index` killed between creating the database and committing its configuration
    (bench/crash_drill.py found it): the folder must read as "no index yet", so that the next
    `qa index` or `qa serve` creates the index, not as an index that then cannot be opened."""
    import sqlite3

    FaissSqliteStore(path, CONFIG, create=True).close()
    with sqlite3.connect(path / "store.sqlite3") as conn:
        conn.execute("DELETE FROM meta")
    assert not FaissSqliteStore.exists(path)
    store = FaissSqliteStore(path, CONFIG, create=True)
    add(store, "a")
    store.close()
    assert FaissSqliteStore.exists(path)
    assert FaissSqliteStore(path).count() == (1, 3)
    (path / "store.sqlite3").write_bytes(b"not a database")
    assert not FaissSqliteStore.exists(path)


def test_damaged_or_stale_faiss_file_is_rebuilt_from_sqlite(path: Path):
    s = FaissSqliteStore(path, CONFIG, create=True)
    a = add(s, "a")
    s.close()
    (path / FAISS_NAME).write_bytes(b"garbage")
    s = FaissSqliteStore(path)
    assert s.search(vectors_for(a)[0], 1)[0].score == pytest.approx(1.0, abs=1e-5)
    s.close()
    (path / FAISS_NAME).unlink()
    s = FaissSqliteStore(path)
    assert s.count() == (1, 3) and len(s.search(vectors_for(a)[0], 5)) == 3


def test_temporary_files_of_dead_writers_are_removed(path: Path):
    """Issue 14, finding 9: `.vectors.faiss.<pid>.tmp` and `.manifest.json.<pid>.tmp` left by a
    crash stayed forever."""
    s = FaissSqliteStore(path, CONFIG, create=True)
    add(s, "a")
    s.close()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    leftovers = [path / f".{FAISS_NAME}.{pid}.tmp", path / f".{MANIFEST_NAME}.{pid}.tmp"]
    for f in leftovers:
        f.write_bytes(b"half a file")
    alive = path / f".{FAISS_NAME}.{os.getppid()}.tmp"  # a live writer's is left alone
    alive.write_bytes(b"being written")
    s = FaissSqliteStore(path)
    assert not any(f.exists() for f in leftovers) and alive.exists()
    for f in leftovers:
        f.write_bytes(b"half a file")
    add(s, "b")  # and at every write
    assert not any(f.exists() for f in leftovers) and alive.exists()


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {tests!r})
    from store.helpers import add
    from qa.store.faiss_sqlite import FaissSqliteStore
    s = FaissSqliteStore({path!r})
    where = {where!r}
    if where == "after_commit":
        # the process dies after SQLite committed, before the FAISS file is written
        FaissSqliteStore._apply = lambda *a, **k: os._exit(3)
    elif where == "in_transaction":
        # the process dies inside the SQLite transaction, as it bumps the generation
        FaissSqliteStore._write_meta = lambda self, values: os._exit(3)
    elif where == "writing_faiss":
        # the process dies halfway through writing the FAISS file
        import qa.store.faiss_sqlite as fs
        def half(path, data):
            with open(fs._tmp_name(path), "wb") as fh:
                fh.write(data[: len(data) // 2])
            os._exit(3)
        fs._write_atomic = half
    add(s, "new", 4)
    """
)


@pytest.mark.parametrize(
    "where, expect_new",
    [("after_commit", True), ("in_transaction", False), ("writing_faiss", True)],
)
def test_crash_mid_write_leaves_a_usable_consistent_index(path: Path, where, expect_new):
    s = FaissSqliteStore(path, CONFIG, create=True)
    old = add(s, "old", 3)
    s.close()
    tests = str(Path(__file__).parent.parent)
    script = CRASH_SCRIPT.format(tests=tests, path=str(path), where=where)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    s = FaissSqliteStore(path)
    assert s.count() == ((2, 7) if expect_new else (1, 3))
    assert s.search(vectors_for(old)[0], 1)[0].score == pytest.approx(1.0, abs=1e-5)
    # FAISS agrees with SQLite: every stored chunk is findable, nothing else is
    assert {h.chunk_id for h in s.search(vectors_for(old)[0], 100)} == {st.id for st in s.chunks()}
    assert not list(path.glob(".*.tmp"))


GRAPH_DIM = 32
GRAPH_CONFIG = StoreConfig("test-model", "fp-1", GRAPH_DIM, chunk_tokens=256, chunk_overlap=1)


def _embedding_like(n: int, seed: int) -> np.ndarray:
    """Unit vectors near a low-rank subspace, as bench/scale.py makes them: near neighbours
    exist but are not far ahead of the rest (pure noise would make recall meaningless)."""
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(1).normal(size=(8, GRAPH_DIM))
    x = rng.normal(size=(n, 8)) @ basis
    x += (
        0.35
        * np.linalg.norm(x, axis=1, keepdims=True)
        / np.sqrt(GRAPH_DIM)
        * rng.normal(size=(n, GRAPH_DIM))
    )
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _many(n: int) -> tuple[list[Document], list[Chunk], np.ndarray]:
    docs, chunks = [], []
    for i in range(n):
        doc, c = make_doc(f"d{i:05d}", 1)
        docs.append(doc)
        chunks += c
    return docs, chunks, _embedding_like(n, 0)


def _recall_at_10(store: FaissSqliteStore, queries: np.ndarray) -> float:
    """Against exact inner products over every stored vector."""
    ids = np.array([st.id for st in store.chunks()])
    rows = dict(store._db.execute("SELECT id, vector FROM chunks").fetchall())
    xb = np.vstack([np.frombuffer(rows[i], dtype=np.float32) for i in ids])
    found = 0
    for q in queries:
        truth = set(ids[np.argsort(-(xb @ q))[:10]].tolist())
        found += len(truth & {h.chunk_id for h in store.search(q, 10)})
    return found / (10 * len(queries))


@pytest.fixture
def graph(path: Path) -> tuple[FaissSqliteStore, list[Document], np.ndarray]:
    """A store forced past its exact limit (1,000 chunks here, 200,000 by default)."""
    docs, chunks, vecs = _many(3000)
    s = FaissSqliteStore(path, GRAPH_CONFIG, create=True, exact_max=1000)
    s.add(docs[:900], chunks[:900], vecs[:900])
    assert s.manifest()["faiss_index"]["type"] == "flat"
    s.add(docs[900:], chunks[900:], vecs[900:])  # grows past the limit: the index type changes
    return s, docs, vecs


def test_past_the_exact_limit_the_graph_finds_the_exact_neighbours(graph):
    s, _, _ = graph
    plan = s.manifest()["faiss_index"]
    assert plan["type"] == "hnsw" and plan["factory"] == f"IDMap2,HNSW{plan['m']},SQ8"
    assert plan["ef_search"] >= 10 and plan["rerank"] >= 1
    assert _recall_at_10(s, _embedding_like(50, 1)) >= 0.95
    hits = s.search(_embedding_like(1, 2)[0], 10)
    assert len(hits) == 10 and [h.score for h in hits] == sorted(
        (h.score for h in hits), reverse=True
    )
    s.close()
    again = FaissSqliteStore(s.dir, exact_max=1000)  # loaded from the file, not rebuilt
    assert again.manifest()["faiss_index"] == plan
    assert again.manifest()["updated"] == s.manifest()["updated"]
    assert _recall_at_10(again, _embedding_like(50, 1)) >= 0.95


def test_the_graph_never_returns_deleted_chunks_and_sheds_them_by_a_rebuild(graph):
    s, docs, vecs = graph
    ids = {st.chunk.doc_id: st.id for st in s.chunks()}
    gone = docs[:100]
    with s.writing() as w:
        for d in gone:
            w.delete(d.id)
    dead = {ids[d.id] for d in gone}
    ntotal = s._index.ntotal
    assert ntotal == 3000  # still in the graph, masked
    for i in range(0, 100, 10):
        assert {h.chunk_id for h in s.search(vecs[i], 20)}.isdisjoint(dead)
    s.close()
    s = FaissSqliteStore(s.dir, exact_max=1000)  # the mask survives reopening
    assert {h.chunk_id for h in s.search(vecs[0], 50)}.isdisjoint(dead)
    assert _recall_at_10(s, _embedding_like(30, 3)) >= 0.95
    # replaced documents leave their old vectors behind too; past the share, a rebuild
    s.add(docs[100:800], [c for d in docs[100:800] for c in make_doc(d.id, 1)[1]], vecs[100:800])
    assert s._index.ntotal == s.count()[1] == 2900 and not s._dead
    assert s.manifest()["faiss_index"]["type"] == "hnsw"


def test_the_graph_answers_filters_and_memory_maps(graph):
    s, docs, vecs = graph
    few = s.chunk_ids(Filters(doc_ids=[d.id for d in docs[:30]]))
    hits = s.search(vecs[2000], 5, allowed=few)  # a narrow filter: exact, from SQLite
    assert {h.chunk_id for h in hits} <= few and len(hits) == 5
    s.close()
    mapped = FaissSqliteStore(s.dir, exact_max=1000, mmap=True)
    wide = set(list(mapped.chunk_ids(Filters()))[:2500])
    hits = mapped.search(vecs[5], 10, allowed=wide)
    assert {h.chunk_id for h in hits} <= wide and len(hits) == 10
    doc, chunks = make_doc("new", 1)
    mapped.add([doc], chunks, vecs[5:6])  # a write applies to a copy, then maps the new file
    assert mapped.search(vecs[5], 2)[0].score == pytest.approx(1.0, abs=1e-5)
    assert mapped._index.ntotal == 3001


def test_an_index_type_of_an_earlier_version_is_rebuilt(graph):
    s, _, vecs = graph
    s.close()
    manifest = s.dir / MANIFEST_NAME
    old = json.loads(manifest.read_text())
    old["faiss_index"] = {"type": "ivfpq", "factory": "IDMap2,IVF200,PQ4", "nprobe": 32}
    manifest.write_text(json.dumps(old))
    again = FaissSqliteStore(s.dir, exact_max=1000)
    assert again.manifest()["faiss_index"]["type"] == "hnsw"
    assert again.search(vecs[7], 1)[0].score == pytest.approx(1.0, abs=1e-5)


def test_memory_mapped_index_answers_and_accepts_writes(path: Path):
    s = FaissSqliteStore(path, CONFIG, create=True)
    a = add(s, "a")
    s.close()
    mapped = FaissSqliteStore(path, mmap=True)
    assert mapped.search(vectors_for(a)[1], 1)[0].score == pytest.approx(1.0, abs=1e-5)
    b = add(mapped, "b")
    assert mapped.search(vectors_for(b)[1], 1)[0].score == pytest.approx(1.0, abs=1e-5)
    assert mapped.count() == (2, 6)
