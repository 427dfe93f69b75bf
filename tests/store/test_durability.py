"""Issue 14's store findings, end to end through the service with the real embedding model: each
test failed before its fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.errors import DocumentNotFound
from qa.index.embed import Embedder
from qa.retrieve import Retriever
from qa.service import QAService
from qa.settings import Settings
from qa.store.faiss_sqlite import FaissSqliteStore
from qa.types import Chunk, Document, Meta

KESSEL = "Mira Kessel founded the Zorblatt Institute in 1911."
QUORN = "The Quorn river flows through Eastbridge before it reaches the sea."


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(Settings().embed_model)


def _corpus(tmp_path: Path, **files: str) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    for name, text in files.items():
        (corpus / f"{name}.txt").write_text(text + "\n")
    return corpus


def test_a_rebuild_beside_a_running_server_keeps_its_later_writes(tmp_path, embedder):
    """Finding 1: the server kept the replaced index open; a later add answered "added" and was
    in no index on disk."""
    index = tmp_path / "index"
    settings = Settings(index_dir=index, corpus=[_corpus(tmp_path, kessel=KESSEL)])
    server = QAService(settings, embedder=embedder)
    server.index()
    assert server.store.count()[0] == 1
    cli = QAService(settings.replace(corpus=[_corpus(tmp_path, quorn=QUORN)]), embedder=embedder)
    cli.rebuild()  # `qa index --rebuild` beside the server: replaces kessel by both files
    cli.close()
    assert server.store.count()[0] == 2  # the server (its /healthz) sees the rebuilt index
    report = server.add_documents([Document("later", "Later news from Eastbridge.", Meta("L"))])
    assert report.added == ["later"]
    fresh = QAService(settings, embedder=embedder)  # what is on disk
    assert sorted(d.id for d in fresh.documents()) == ["kessel", "later", "quorn"]
    assert fresh.search("Which river flows through Eastbridge?", top_k=1)[0].doc_id == "quorn"


class PoisonedEmbedder(Embedder):
    """The real embedder, failing on one text, as a bad document would fail mid-upload."""

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if any("POISON" in t for t in texts):
            raise ValueError("this document cannot be embedded")
        return super().embed(texts, progress)


def test_an_upload_is_committed_whole_or_not_at_all(tmp_path):
    """Finding 4: 257 documents, the last one bad: 500, yet 256 were committed."""
    settings = Settings(index_dir=tmp_path / "index")
    svc = QAService(settings, embedder=PoisonedEmbedder(settings.embed_model))
    svc.add_documents([Document("first", KESSEL, Meta("first"))])
    docs = [Document(f"d{i:03d}", f"Item {i} of the batch.", Meta(f"d{i}")) for i in range(256)]
    docs.append(Document("bad", "POISON in the last document.", Meta("bad")))
    generation = svc.store.generation()
    with pytest.raises(ValueError, match="cannot be embedded"):
        svc.add_documents(docs)
    assert [d.id for d in svc.documents()] == ["first"]
    assert svc.store.generation() == generation
    # `qa index` over a corpus commits batch by batch, and says which documents it kept
    report = svc.add_documents(docs[:-1], atomic=False)
    assert len(report.added) == 256 and svc.store.count()[0] == 257


class DeletingStore(FaissSqliteStore):
    """The real store, where another client deletes a document just after a search fetched its
    chunks: the interleaving of a delete/ask race, made certain."""

    victim = ""

    def get_chunks(self, ids: list[int]) -> dict[int, Chunk]:
        chunks = super().get_chunks(ids)
        if self.victim:
            other = FaissSqliteStore(self.dir)
            other.delete(self.victim)
            other.close()
            self.victim = ""
        return chunks


def test_a_document_deleted_mid_search_is_left_out_not_a_404(tmp_path, embedder):
    """Finding 5: /api/ask answered 404 "unknown document" in a delete/add race."""
    settings = Settings(index_dir=tmp_path / "index")
    svc = QAService(settings, embedder=embedder)
    svc.add_documents([Document("kessel", KESSEL, Meta("k")), Document("quorn", QUORN, Meta("q"))])
    svc.close()
    store = DeletingStore(settings.index_dir)
    retriever = Retriever(store, embedder)
    store.victim = "kessel"
    try:
        passages = retriever.search("Who founded the Zorblatt Institute?", 5)
    except DocumentNotFound as exc:  # pragma: no cover - the bug
        pytest.fail(f"a concurrent delete broke the search: {exc}")
    assert [p.doc_id for p in passages] == ["quorn"]


NO_MODEL = """
import sys
from qa.cli import main
code = main(["--index-dir", sys.argv[1], *sys.argv[2:]])
loaded = [m for m in ("sentence_transformers", "torch", "onnxruntime") if m in sys.modules]
print("LOADED", loaded)
sys.exit(code)
"""


def test_listing_and_deleting_documents_load_no_model(tmp_path, embedder):
    """Issue 11: `qa documents` and `qa delete` loaded MiniLM to open the store."""
    settings = Settings(index_dir=tmp_path / "index")
    svc = QAService(settings, embedder=embedder)
    svc.add_documents([Document("kessel", KESSEL, Meta("k")), Document("quorn", QUORN, Meta("q"))])
    svc.close()
    for args, expect in ((["documents"], "kessel"), (["delete", "kessel"], "deleted kessel")):
        proc = subprocess.run(
            [sys.executable, "-c", NO_MODEL, str(settings.index_dir), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert expect in proc.stdout and "LOADED []" in proc.stdout
    assert [d.id for d in QAService(settings).documents()] == ["quorn"]
