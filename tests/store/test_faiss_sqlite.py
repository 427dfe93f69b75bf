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
from qa.store.faiss_sqlite import FAISS_NAME, MANIFEST_NAME, FaissSqliteStore
from qa.types import Chunk, Document


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
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
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


def _many(n: int) -> tuple[list[Document], list[Chunk], np.ndarray]:
    rng = np.random.default_rng(0)
    docs, chunks = [], []
    for i in range(n):
        doc, c = make_doc(f"d{i:05d}", 1)
        docs.append(doc)
        chunks += c
    basis = rng.normal(size=(4, DIM))
    vecs = rng.normal(size=(n, 4)) @ basis + 0.1 * rng.normal(size=(n, DIM))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return docs, chunks, vecs.astype(np.float32)


def test_past_the_exact_limit_the_index_is_ivfpq_with_its_parameters_in_the_manifest(path: Path):
    docs, chunks, vecs = _many(600)
    s = FaissSqliteStore(path, CONFIG, create=True, exact_max=500)
    s.add(docs[:450], chunks[:450], vecs[:450])
    assert s.manifest()["faiss_index"]["type"] == "flat"
    s.add(docs[450:], chunks[450:], vecs[450:])  # grows past the limit: the index type changes
    plan = s.manifest()["faiss_index"]
    assert plan["type"] == "ivfpq" and plan["nlist"] >= 1 and plan["nprobe"] >= 1
    assert plan["factory"] == f"IDMap2,IVF{plan['nlist']},PQ{plan['pq_m']}"
    ids = {c.doc_id: st.id for st in s.chunks() for c in [st.chunk]}
    found = sum(s.search(vecs[i], 10)[0].chunk_id == ids[docs[i].id] for i in range(0, 600, 20))
    assert found >= 25  # of 30: candidates are approximate, re-scored exactly
    assert s.delete(docs[0].id) == 1  # IVF-PQ can delete (HNSW could not)
    s.close()
    again = FaissSqliteStore(path, exact_max=500)
    assert again.manifest()["faiss_index"] == plan and again.count() == (599, 599)


def test_memory_mapped_index_answers_and_accepts_writes(path: Path):
    s = FaissSqliteStore(path, CONFIG, create=True)
    a = add(s, "a")
    s.close()
    mapped = FaissSqliteStore(path, mmap=True)
    assert mapped.search(vectors_for(a)[1], 1)[0].score == pytest.approx(1.0, abs=1e-5)
    b = add(mapped, "b")
    assert mapped.search(vectors_for(b)[1], 1)[0].score == pytest.approx(1.0, abs=1e-5)
    assert mapped.count() == (2, 6)
