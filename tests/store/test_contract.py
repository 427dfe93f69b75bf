"""The store contract (qa/store/base.py), checked on every backend with the same tests."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from store.helpers import CONFIG, DIM, add, make_doc, vectors_for

from qa.errors import Busy, DocumentNotFound, IndexError_, ModelMismatch
from qa.store import Hit, Store
from qa.types import Chunk, Document, Filters, Meta


def test_add_search_count_delete(open_new):
    store = open_new(CONFIG)
    a = add(store, "a")
    add(store, "b", 2)
    assert store.count() == (2, 5)
    hits = store.search(vectors_for(a[1:2])[0], k=3)
    assert all(isinstance(h, Hit) for h in hits)
    assert store.get_chunks([hits[0].chunk_id])[hits[0].chunk_id] == a[1]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert store.delete("a") == 3
    assert store.count() == (1, 2)
    found = store.search(vectors_for(a[:1])[0], k=10)
    assert len(found) == 2
    assert all(store.get_chunks([h.chunk_id])[h.chunk_id].doc_id == "b" for h in found)
    with pytest.raises(DocumentNotFound):
        store.delete("a")


def test_chunk_text_and_documents_round_trip(open_new):
    store = open_new(CONFIG)
    text = "Café 🚀 launch.\nЦхинвали 茨欣瓦利 parliament. Alan Alborov 👍 spoke."
    doc = Document("u", text, meta=Meta("u", source="TASS", date="2014-03-18"), content=[(0, 15)])
    cuts = [(0, 15), (15, 47), (47, len(text))]
    chunks = [Chunk("u", i, a, b, text[a:b]) for i, (a, b) in enumerate(cuts)]
    store.add([doc], chunks, vectors_for(chunks))
    stored = list(store.chunks())
    assert [st.chunk for st in stored] == chunks
    assert store.get_chunks([st.id for st in stored]) == {st.id: st.chunk for st in stored}
    assert store.get_document("u") == doc
    info = store.document_info("u")
    assert (info.chars, info.chunks, info.source) == (len(text), 3, "TASS")
    assert [d.id for d in store.documents()] == ["u"]
    assert store.fingerprints() == {"u": store.fingerprint(doc)}
    with pytest.raises(DocumentNotFound):
        store.get_document("nope")


def test_replacing_a_document_drops_its_old_chunks_and_ids_are_not_reused(open_new):
    store = open_new(CONFIG)
    add(store, "a", 3)
    old_ids = {st.id for st in store.chunks()}
    add(store, "a", 1)
    assert store.count() == (1, 1)
    assert store.document_info("a").chunks == 1
    assert not {st.id for st in store.chunks()} & old_ids
    assert store.get_chunks(sorted(old_ids)) == {}  # gone chunks are left out, not an error


def test_reopening_needs_no_config_and_keeps_everything(open_new):
    first = open_new(CONFIG)
    a = add(first, "a")
    first.close()
    again = open_new()  # no model, no config: read from the store
    assert again.config == CONFIG
    assert again.count() == (1, 3)
    assert again.search(vectors_for(a)[2], 1)[0].score == pytest.approx(1.0, abs=1e-4)
    assert again.get_document("a").text.startswith("Sentence 0")


def test_opening_a_missing_store_without_config_is_refused(open_new):
    with pytest.raises(IndexError_, match="qa index"):
        open_new()


def test_filters_select_chunk_ids(open_new):
    store = open_new(CONFIG)
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
    assert {h.chunk_id for h in store.search(q, 10, allowed=ids_a)} == ids_a
    assert store.search(q, 10, allowed=set()) == []
    many = [f"x{i}" for i in range(40_000)] + ["a"]  # more than SQLite's variable limit
    assert store.chunk_ids(Filters(doc_ids=many)) == ids_a


def test_bad_writes_change_nothing(open_new):
    store = open_new(CONFIG)
    add(store, "a")
    generation = store.generation()
    doc, chunks = make_doc("b")
    with pytest.raises(ValueError):
        store.add([doc], chunks, vectors_for(chunks)[:1])
    with pytest.raises(ModelMismatch):
        store.add([doc], chunks, np.ones((3, DIM + 1), np.float32))
    other_doc, _ = make_doc("c")
    with pytest.raises(ValueError):
        store.add([other_doc], chunks, vectors_for(chunks))
    assert store.count() == (1, 3) and store.generation() == generation


def test_a_write_block_commits_whole_or_not_at_all(open_new):
    store = open_new(CONFIG)
    add(store, "a")
    generation = store.generation()
    with store.writing() as w:
        for name in ("b", "c"):
            doc, chunks = make_doc(name)
            w.add([doc], chunks, vectors_for(chunks))
        w.delete("a")
    assert store.generation() == generation + 1
    assert sorted(store.fingerprints()) == ["b", "c"]
    with pytest.raises(DocumentNotFound), store.writing() as w:
        doc, chunks = make_doc("d")
        w.add([doc], chunks, vectors_for(chunks))
        w.delete("no-such-document")
    assert sorted(store.fingerprints()) == ["b", "c"] and store.generation() == generation + 1
    assert len(store.search(vectors_for(chunks)[0], 100)) == 6


def test_other_model_is_refused(open_new):
    store = open_new(CONFIG)
    add(store, "a")
    with pytest.raises(ModelMismatch, match=r"another encoder of .*'test-model' \(fp-1\).*fp-2"):
        store.check(CONFIG.__class__(**(CONFIG.to_dict() | {"model_fingerprint": "fp-2"})))
    with pytest.raises(ModelMismatch):
        open_new(CONFIG.__class__(**(CONFIG.to_dict() | {"dimension": DIM * 2})))


def test_another_process_sees_writes_after_refresh(open_new):
    writer, reader = open_new(CONFIG), open_new(CONFIG)
    add(writer, "a")
    assert reader.refresh() is True and reader.refresh() is False
    assert reader.count() == (1, 3) and reader.generation() == writer.generation()
    assert len(reader.search(vectors_for(make_doc("a")[1])[0], 10)) == 3


def test_rebuild_is_atomic_for_readers_and_keeps_the_store(open_new):
    store, reader = open_new(CONFIG), open_new(CONFIG)
    add(store, "old")
    identity, generation = store.identity(), store.generation()
    other = CONFIG.__class__(**(CONFIG.to_dict() | {"model_fingerprint": "fp-2"}))
    with store.rebuilding(other) as w:
        doc, chunks = make_doc("new", 2)
        w.add([doc], chunks, vectors_for(chunks))
        reader.refresh()
        assert sorted(reader.fingerprints()) == ["old"]  # not yet
    assert reader.refresh()
    assert sorted(reader.fingerprints()) == ["new"] and reader.count() == (1, 2)
    assert reader.identity() != identity and reader.generation() > generation
    assert reader.config == other
    assert {h.chunk_id for h in reader.search(vectors_for(chunks)[0], 10)} == {
        st.id for st in reader.chunks()
    }
    # after the rebuild, writes through either handle land in the store both read
    add(reader, "later")
    store.refresh()
    assert sorted(store.fingerprints()) == ["later", "new"]
    # a rebuild that fails leaves the store as it was
    with pytest.raises(RuntimeError), store.rebuilding(CONFIG) as w:
        w.add([make_doc("x")[0]], [], np.zeros((0, DIM), np.float32))
        raise RuntimeError("interrupted")
    assert sorted(store.fingerprints()) == ["later", "new"] and store.config == other


def test_concurrent_writers_serialize_or_get_busy(open_new):
    first = open_new(CONFIG)
    second = open_new(write_timeout=0.3)
    add(first, "seed")
    # a writer that cannot get its turn in time is told so and writes nothing
    with first.writing() as w:
        doc, chunks = make_doc("held")
        w.add([doc], chunks, vectors_for(chunks))
        with pytest.raises(Busy, match="in progress"):
            add(second, "refused")
    second.refresh()
    assert sorted(second.fingerprints()) == ["held", "seed"]
    # writers that wait their turn all land: nothing is lost
    patient: list[Store] = [open_new(write_timeout=30) for _ in range(3)]
    errors: list[BaseException] = []

    def write(store: Store, n: int) -> None:
        try:
            for i in range(4):
                add(store, f"w{n}-{i}", 2)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(patient)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    first.refresh()
    assert first.count() == (14, 3 + 3 + 24)
    assert first.generation() == 2 + 12
