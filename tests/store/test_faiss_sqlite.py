"""The embedded store: the four verbs, persistence, and what survives a crash mid-write."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from qa.errors import DocumentNotFound, IndexVersionMismatch, ModelMismatch
from qa.store import make_store
from qa.store.faiss_sqlite import FAISS_NAME, MANIFEST_NAME, FaissSqliteStore
from qa.types import Chunk, Document, Filters

DIM = 8
CONFIG = {
    "model": "test-model",
    "model_fingerprint": "fp-1",
    "dimension": DIM,
    "chunk_tokens": 256,
    "chunk_overlap": 1,
}


def make_doc(doc_id: str, n_chunks: int = 3, **meta: str) -> tuple[Document, list[Chunk]]:
    sentences = [f"Sentence {i} of {doc_id}." for i in range(n_chunks)]
    text = " ".join(sentences)
    doc = Document(doc_id, text, title=f"Title {doc_id}", **meta)
    chunks, pos = [], 0
    for i, s in enumerate(sentences):
        start = text.index(s, pos)
        chunks.append(Chunk(doc_id, i, start, start + len(s), s))
        pos = start + len(s)
    return doc, chunks


def vectors_for(chunks: list[Chunk]) -> np.ndarray:
    """Deterministic unit vectors derived from the chunk text."""
    out = []
    for c in chunks:
        rng = np.random.default_rng(abs(hash(c.text)) % 2**32)
        v = rng.normal(size=DIM).astype(np.float32)
        out.append(v / np.linalg.norm(v))
    return np.vstack(out) if out else np.zeros((0, DIM), np.float32)


def add(store: FaissSqliteStore, doc_id: str, n: int = 3, **meta: str) -> list[Chunk]:
    doc, chunks = make_doc(doc_id, n, **meta)
    store.add([doc], chunks, vectors_for(chunks))
    return chunks


@pytest.fixture
def store(tmp_path: Path) -> FaissSqliteStore:
    return FaissSqliteStore(tmp_path / "idx", CONFIG)


def test_add_search_count_delete(store: FaissSqliteStore):
    a = add(store, "a")
    add(store, "b", 2)
    assert store.count() == (2, 5)
    hits = store.search(vectors_for(a[1:2])[0], k=3)
    top = store.get_chunks([hits[0][0]])[hits[0][0]]
    assert top.text == a[1].text and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert store.delete("a") == 3
    assert store.count() == (1, 2)
    assert all(
        store.get_chunks([cid])[cid].doc_id == "b"
        for cid, _ in store.search(vectors_for(a[:1])[0], k=10)
    )
    with pytest.raises(DocumentNotFound):
        store.delete("a")


def test_chunk_text_is_sliced_by_characters_not_bytes(store: FaissSqliteStore):
    # SQLite slices the stored text: offsets count code points, as Python's do, even past
    # accents, CJK and characters outside the BMP
    text = "Café 🚀 launch.\nЦхинвали 茨欣瓦利 parliament. Alan Alborov 👍 spoke."
    doc = Document("u", text, title="u")
    cuts = [(0, 15), (15, 47), (47, len(text))]
    chunks = [Chunk("u", i, a, b, text[a:b]) for i, (a, b) in enumerate(cuts)]
    store.add([doc], chunks, vectors_for(chunks))
    stored = list(store.chunks())
    assert [st.chunk for st in stored] == chunks
    assert store.get_chunks([st.id for st in stored]) == {st.id: st.chunk for st in stored}


def test_replacing_a_document_drops_its_old_chunks(store: FaissSqliteStore):
    add(store, "a", 3)
    add(store, "a", 1)
    assert store.count() == (1, 1)
    assert store.document_info("a").chunks == 1


def test_reopen_keeps_everything(tmp_path: Path):
    s1 = FaissSqliteStore(tmp_path / "idx", CONFIG)
    a = add(s1, "a")
    s1.close()
    s2 = make_store("faiss", tmp_path / "idx", CONFIG)
    assert s2.count() == (1, 3)
    assert s2.search(vectors_for(a)[2], 1)[0][1] == pytest.approx(1.0, abs=1e-5)
    assert s2.get_document("a").text.startswith("Sentence 0")
    manifest = json.loads((tmp_path / "idx" / MANIFEST_NAME).read_text())
    assert manifest["chunks"] == 3 and manifest["dimension"] == DIM and manifest["generation"] == 1


def test_filters_select_chunk_ids(store: FaissSqliteStore):
    add(store, "a", 2, source="TASS", date="2014-03-18")
    add(store, "b", 2, source="RT", date="2016-01-01")
    add(store, "c", 2)
    assert len(store.chunk_ids(Filters())) == 6
    ids_a = store.chunk_ids(Filters(doc_ids=["a"]))
    assert len(ids_a) == 2
    assert store.chunk_ids(Filters(sources=["tass"])) == ids_a
    assert store.chunk_ids(Filters(date_from="2015-01-01")) == store.chunk_ids(
        Filters(doc_ids=["b"])
    )
    assert store.chunk_ids(Filters(date_to="2015-01-01")) == ids_a
    q = vectors_for([Chunk("b", 0, 0, 1, "Sentence 0 of b.")])[0]
    hits = store.search(q, 10, allowed=ids_a)
    assert {cid for cid, _ in hits} == ids_a
    assert store.search(q, 10, allowed=set()) == []


def test_bad_writes_change_nothing(store: FaissSqliteStore):
    add(store, "a")
    doc, chunks = make_doc("b")
    with pytest.raises(ValueError):
        store.add([doc], chunks, vectors_for(chunks)[:1])
    with pytest.raises(ModelMismatch):
        store.add([doc], chunks, np.ones((3, DIM + 1), np.float32))
    other_doc, _ = make_doc("c")
    with pytest.raises(ValueError):
        store.add([other_doc], chunks, vectors_for(chunks))
    assert store.count() == (1, 3)


def test_other_model_or_version_is_refused(tmp_path: Path):
    s = FaissSqliteStore(tmp_path / "idx", CONFIG)
    add(s, "a")
    s.close()
    with pytest.raises(ModelMismatch, match="test-model"):
        FaissSqliteStore(tmp_path / "idx", CONFIG | {"model_fingerprint": "fp-2"})
    with pytest.raises(ModelMismatch):
        FaissSqliteStore(tmp_path / "idx", CONFIG | {"dimension": DIM * 2})
    manifest = tmp_path / "idx" / MANIFEST_NAME
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(data | {"format_version": 999}))
    with pytest.raises(IndexVersionMismatch, match="999"):
        FaissSqliteStore(tmp_path / "idx", CONFIG)


def test_damaged_or_stale_faiss_file_is_rebuilt_from_sqlite(tmp_path: Path):
    s = FaissSqliteStore(tmp_path / "idx", CONFIG)
    a = add(s, "a")
    s.close()
    (tmp_path / "idx" / FAISS_NAME).write_bytes(b"garbage")
    s = FaissSqliteStore(tmp_path / "idx", CONFIG)
    assert s.search(vectors_for(a)[0], 1)[0][1] == pytest.approx(1.0, abs=1e-5)
    s.close()
    (tmp_path / "idx" / FAISS_NAME).unlink()
    s = FaissSqliteStore(tmp_path / "idx", CONFIG)
    assert s.count() == (1, 3) and len(s.search(vectors_for(a)[0], 5)) == 3


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {tests!r})
    from store.test_faiss_sqlite import CONFIG, add
    from qa.store.faiss_sqlite import FaissSqliteStore
    s = FaissSqliteStore({path!r}, CONFIG)
    where = {where!r}
    if where == "after_commit":
        # the process dies after SQLite committed, before the FAISS file is written
        FaissSqliteStore._apply = lambda *a, **k: os._exit(3)
    elif where == "in_transaction":
        # the process dies inside the SQLite transaction
        FaissSqliteStore._bump_generation = lambda self: os._exit(3)
    add(s, "new", 4)
    """
)


@pytest.mark.parametrize("where, expect_new", [("after_commit", True), ("in_transaction", False)])
def test_crash_mid_write_leaves_a_usable_consistent_index(tmp_path: Path, where, expect_new):
    path = tmp_path / "idx"
    s = FaissSqliteStore(path, CONFIG)
    old = add(s, "old", 3)
    s.close()
    script = CRASH_SCRIPT.format(
        tests=str(Path(__file__).parent.parent), path=str(path), where=where
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    s = FaissSqliteStore(path, CONFIG)
    docs, chunks = s.count()
    assert (docs, chunks) == ((2, 7) if expect_new else (1, 3))
    assert s.search(vectors_for(old)[0], 1)[0][1] == pytest.approx(1.0, abs=1e-5)
    # FAISS agrees with SQLite: every stored chunk is findable, nothing else is
    found = {cid for cid, _ in s.search(vectors_for(old)[0], 100)}
    assert found == {st.id for st in s.chunks()}
