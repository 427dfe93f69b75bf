"""The BM25 index saved beside the store: loaded by the next process, replaced on writes, and
rebuilt (never trusted) when its save is damaged or was made by another tokenizer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support import CHAIRMAN_Q

from qa.retrieve.lexical import PREFIX, LexicalIndex, _store_tag
from qa.service import QAService
from qa.settings import Settings
from qa.types import Document, Meta


@pytest.fixture
def index_dir(seeds_index_dir: Path, tmp_path: Path) -> Path:
    """A copy of the seeds index with no saved BM25 index in it."""
    target = tmp_path / "index"
    shutil.copytree(seeds_index_dir, target)
    for saved in target.glob(f"{PREFIX}*"):
        shutil.rmtree(saved)
    return target


def open_service(index_dir: Path, seeds_service: QAService) -> QAService:
    """A new service on the folder, as a new process would open it (the models are shared)."""
    return QAService(Settings(index_dir=index_dir), embedder=seeds_service.embedder)


def saves(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.lstrip(".").startswith(PREFIX))


def save_of(svc: QAService) -> Path:
    """Where the save of the store's current state goes: generation and store both name it."""
    generation, store = svc.store.generation(), svc.store.identity()
    return svc.settings.index_dir / f"{PREFIX}{generation}-{_store_tag(store)}"


def ranking(svc: QAService, query: str) -> list[tuple[str, int, float | None]]:
    return [(p.doc_id, p.start, p.scores.get("bm25")) for p in svc.search(query, top_k=5)]


def test_the_next_process_loads_the_saved_index(index_dir: Path, seeds_service: QAService):
    first = open_service(index_dir, seeds_service)
    first.retriever.sync()
    assert first.retriever.lexical.source == "built"
    assert saves(index_dir) == [save_of(first).name]
    manifest = json.loads((save_of(first) / "manifest.json").read_text())
    assert manifest["chunks"] == first.store.count()[1] == first.retriever.lexical.size
    assert manifest["store"] == first.store.identity() != ""

    second = open_service(index_dir, seeds_service)
    second.retriever.sync()
    assert second.retriever.lexical.source == "loaded"
    for query in (CHAIRMAN_Q, "Botsiyev", "free border crossing"):
        assert ranking(second, query) == ranking(first, query)
    first.close()
    second.close()


def test_a_write_replaces_the_save(index_dir: Path, seeds_service: QAService):
    svc = open_service(index_dir, seeds_service)
    svc.retriever.sync()
    before = svc.store.generation()
    text = "Zorbulan quintessa was elected mayor of Tskhinvali in 2031."
    svc.add_documents([Document("zz", text, Meta("Zorbulan"))])
    top = svc.search("Zorbulan quintessa", top_k=1)[0]
    assert top.doc_id == "zz" and top.scores["bm25_rank"] == 1
    after = svc.store.generation()
    assert after > before and saves(index_dir) == [save_of(svc).name]
    other = open_service(index_dir, seeds_service)  # another process sees the write, loaded
    assert other.search("Zorbulan quintessa", top_k=1)[0].doc_id == "zz"
    assert other.retriever.lexical.source == "loaded"
    svc.close()
    other.close()


def test_a_save_that_outlives_its_store_is_not_loaded(index_dir: Path, seeds_service: QAService):
    """A store created again in the same folder (its files deleted, the saves left) counts its
    generations afresh: the old store's save of the same generation must not be taken for it."""
    old = open_service(index_dir, seeds_service)
    old.retriever.sync()
    stale = save_of(old)
    generation = old.store.generation()
    old.close()
    for name in ("store.sqlite3", "vectors.faiss", "manifest.json"):
        (index_dir / name).unlink()
    new = open_service(index_dir, seeds_service)
    new.index()  # the same seeds again: the same generation, the same number of chunks
    assert new.store.generation() == generation and new.store.identity() != ""
    assert LexicalIndex.load(index_dir, generation, new.store.identity()) is None
    assert new.search("Botsiyev", top_k=1)[0].scores["bm25_rank"] == 1
    assert new.retriever.lexical.source == "built"
    assert saves(index_dir) == [save_of(new).name] and not stale.exists()
    new.close()


@pytest.mark.parametrize("damage", ["truncated", "other_tokenizer", "no_manifest"])
def test_a_damaged_or_foreign_save_is_rebuilt(
    index_dir: Path, seeds_service: QAService, damage: str
):
    svc = open_service(index_dir, seeds_service)
    svc.retriever.sync()
    expected = ranking(svc, CHAIRMAN_Q)
    saved = save_of(svc)
    generation, store = svc.store.generation(), svc.store.identity()
    svc.close()
    if damage == "truncated":
        data = saved / "data.csc.index.npy"
        data.write_bytes(data.read_bytes()[:100])
    elif damage == "other_tokenizer":
        manifest = json.loads((saved / "manifest.json").read_text())
        (saved / "manifest.json").write_text(json.dumps({**manifest, "tokenizer": "whitespace"}))
    else:
        (saved / "manifest.json").unlink()
    assert LexicalIndex.load(index_dir, generation, store) is None
    again = open_service(index_dir, seeds_service)
    assert ranking(again, CHAIRMAN_Q) == expected
    assert again.retriever.lexical.source == "built"
    again.close()


def test_an_unwritable_folder_still_serves(
    index_dir: Path, seeds_service: QAService, caplog: pytest.LogCaptureFixture
):
    svc = open_service(index_dir, seeds_service)
    # what a read-only index folder gives (as root, permissions would not stop the write; a
    # missing folder is made): a folder that cannot exist, under a file
    svc.retriever.upkeep.directory = index_dir / "store.sqlite3" / "bm25"
    top = svc.search("Botsiyev", top_k=1)[0]
    assert top.scores["bm25_rank"] == 1 and svc.retriever.lexical.source == "built"
    assert "could not save the BM25 index" in caplog.text
    assert saves(index_dir) == []
    svc.close()
