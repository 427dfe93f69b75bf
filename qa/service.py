"""The library's front door: index articles, ask questions, get cited extractive answers.

Construction is cheap; the embedder, the reader and the index open on first use (or in
``warm_up``), once per process. The HTTP layer and the CLI are thin wrappers over this class, so a
script gets exactly what a user of the service gets. The work is the stages' (``qa.pipeline``
wires them); this class checks what a caller hands in and applies the answer threshold.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qa.errors import BadInput, TooLarge
from qa.index.embed import Embedder
from qa.pipeline import Pipeline
from qa.read import Reader
from qa.retrieve import Retriever
from qa.settings import Settings
from qa.store import Store
from qa.text.validate import check_filters, check_question, check_top_k
from qa.types import Document, DocumentInfo, Filters, IndexReport, Passage, Result

FilterArg = Filters | dict[str, Any] | None


def _stage(name: str) -> Any:
    """The pipeline's stage ``name``, read through the service (made on first use)."""
    return property(lambda self: getattr(self.pipeline, name))


class QAService:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        reader: Reader | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.pipeline = Pipeline(self.settings, reader=reader, embedder=embedder)

    # the stages, for scripts that need one
    embedder: Embedder = _stage("embedder")
    reader: Reader = _stage("reader")
    store: Store = _stage("store")
    retriever: Retriever = _stage("retriever")

    def warm_up(self) -> None:
        """Load models and the index now rather than on the first question, and read one
        made-up passage: a first read pays for lazy allocations (onnxruntime's arenas, tokenizer
        and sentence-splitter set-up) that belong to start-up, not to a user's question."""
        self.embedder.warm_up()
        self.reader.warm_up()
        self.retriever.sync()
        text = "The service was started by the operator. It answers questions."
        self.read("Who started the service?", [Passage("warm-up", 0, 0, len(text), text)])

    def index_exists(self) -> bool:
        return self.pipeline.index_exists()

    def close(self) -> None:
        self.pipeline.close()

    # -- writing ---------------------------------------------------------------------------------

    def index(
        self, paths: Iterable[str | Path] | None = None, *, progress: bool = False
    ) -> IndexReport:
        """Load files and add them; unchanged documents are skipped, changed ones replaced."""
        return self.pipeline.index(paths, progress=progress)

    def add_documents(
        self, docs: list[Document], *, progress: bool = False, atomic: bool = True
    ) -> IndexReport:
        """Add or replace documents; unchanged ones are skipped. ``atomic``: all in one
        transaction (see ``qa.index.writer.Indexer.add``)."""
        return self.pipeline.add(docs, progress=progress, atomic=atomic)

    def delete(self, doc_id: str) -> int:
        return self.store.delete(doc_id)

    def ensure_index(self) -> IndexReport | None:
        """Build the index from ``settings.indexing.corpus`` when there is none or it is empty
        (first run); None when there is one. A corpus that gives no document creates nothing
        (the report says why)."""
        return self.pipeline.ensure_index()

    def rebuild(
        self, paths: Iterable[str | Path] | None = None, *, progress: bool = False
    ) -> IndexReport:
        """Replace the whole index with these files (another embedding model or chunking may be
        set). The store does it as one write: servers on the index keep answering from the old
        contents until it commits, then from the new; a failure leaves the old index."""
        return self.pipeline.rebuild(paths, progress=progress)

    # -- reading ---------------------------------------------------------------------------------

    def search(
        self, query: str, top_k: int | None = None, filters: FilterArg = None
    ) -> list[Passage]:
        query = self._question(query)
        return self.retriever.search(query, self._top_k(top_k), check_filters(filters))

    def batch_search(
        self, queries: list[str], top_k: int | None = None, filters: FilterArg = None
    ) -> list[list[Passage]]:
        queries = [self._question(q) for q in queries]
        return self.retriever.batch_search(queries, self._top_k(top_k), check_filters(filters))

    def ask(self, question: str, top_k: int | None = None, filters: FilterArg = None) -> Result:
        return self.ask_batch([question], top_k, filters)[0]

    def ask_batch(
        self, questions: list[str], top_k: int | None = None, filters: FilterArg = None
    ) -> list[Result]:
        if not isinstance(questions, list):
            raise BadInput("questions must be a list of strings")
        if len(questions) > self.settings.limits.max_batch:
            raise TooLarge(f"at most {self.settings.limits.max_batch} questions per batch")
        questions = [self._question(q) for q in questions]
        k = self._top_k(top_k)
        flt = check_filters(filters)
        if not questions:
            return []
        return self.pipeline.ask(questions, k, flt, self.pipeline.threshold())

    def read(self, question: str, passages: list[Passage]) -> Result:
        """Reader and aggregation over given passages: what ``ask`` does after retrieval, and the
        reader-only ("gold passage") evaluation mode."""
        question = self._question(question)
        return self.pipeline.read(question, passages, self.pipeline.threshold())

    def documents(self) -> list[DocumentInfo]:
        return self.store.documents()

    def document(self, doc_id: str) -> tuple[Document, DocumentInfo]:
        return self.store.get_document(doc_id), self.store.document_info(doc_id)

    def health(self) -> dict[str, Any]:
        docs, chunks = self.store.count()
        return {
            "status": "ok",
            "documents": docs,
            "chunks": chunks,
            "generation": self.store.generation(),
            "index_dir": str(self.settings.storage.index_dir),
            "store": self.store.kind,
            "index_format": self.store.format_version,
            "embed_model": self.settings.models.embed_model,
            "reader": self.reader.name,
            "threshold": self.pipeline.threshold(),
        }

    def _question(self, question: Any) -> str:
        return check_question(question, self.settings.limits)

    def _top_k(self, top_k: Any) -> int:
        return check_top_k(top_k, self.settings.retrieval.top_k, self.settings.limits)
