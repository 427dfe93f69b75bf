"""The library's front door: index articles, ask questions, get cited extractive answers.

Construction is cheap; the embedder, the reader and the index open on first use (or in
``warm_up``), once per process. The HTTP layer and the CLI are thin wrappers over this class, so a
script gets exactly what a user of the service gets.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from qa.answers import aggregate
from qa.chunk import chunk_documents, split_oversized
from qa.embed import Embedder
from qa.errors import BadInput, TooLarge
from qa.readers import Reader, make_reader
from qa.retrieve import Retriever
from qa.settings import Settings
from qa.store import Store, make_store
from qa.store.faiss_sqlite import DB_NAME, FORMAT_VERSION, document_fingerprint
from qa.types import (
    Chunk,
    Document,
    DocumentInfo,
    Filters,
    IndexReport,
    Passage,
    Result,
)
from qa.validate import check_text

log = logging.getLogger(__name__)

#: documents embedded and written per store transaction: bounds memory on big corpora while
#: keeping each write atomic.
WRITE_BATCH = 256


class QAService:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        reader: Reader | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.embedder = embedder or Embedder(
            self.settings.embed_model,
            self.settings.embed_batch_size,
            backend=self.settings.embed_backend,
        )
        self._reader = reader
        self._store: Store | None = None
        self._retriever: Retriever | None = None
        self._lock = threading.RLock()

    # -- lazy components -----------------------------------------------------------------------

    @property
    def reader(self) -> Reader:
        with self._lock:
            if self._reader is None:
                self._reader = make_reader(self.settings, self.embedder)
            return self._reader

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = make_store(
                    self.settings.store, self.settings.index_dir, self._store_config()
                )
            return self._store

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(
                    self.store,
                    self.embedder,
                    self.settings.candidates,
                    self.settings.rrf_k,
                    lexical_dir=self.settings.index_dir,
                )
            return self._retriever

    def _store_config(self) -> dict[str, Any]:
        return {
            "model": self.settings.embed_model,
            # the variant too (torch, ONNX int8): their vectors differ slightly
            "model_fingerprint": self.embedder.fingerprint,
            "dimension": self.embedder.dimension,
            "chunk_tokens": self.settings.chunk_tokens,
            "chunk_overlap": self.settings.chunk_overlap,
        }

    def warm_up(self) -> None:
        """Load models and the index now rather than on the first question."""
        self.embedder.warm_up()
        self.reader.warm_up()
        self.retriever.sync()

    def index_exists(self) -> bool:
        return (self.settings.index_dir / DB_NAME).exists()

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = None
            self._retriever = None

    # -- writing -------------------------------------------------------------------------------

    def index(
        self, paths: Iterable[str | Path] | None = None, *, progress: bool = False
    ) -> IndexReport:
        """Load files and add them; unchanged documents are skipped, changed ones replaced."""
        from qa.load import load_documents

        started = time.perf_counter()
        docs, problems = load_documents(list(paths) if paths is not None else self.settings.corpus)
        docs, too_long = split_oversized(docs, self.settings.max_document_chars)
        problems += too_long
        report = self.add_documents(docs, progress=progress)
        report.problems = problems + report.problems
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def add_documents(self, docs: list[Document], *, progress: bool = False) -> IndexReport:
        started = time.perf_counter()
        report = IndexReport()
        store = self.store
        known = store.fingerprints()
        todo = []
        for doc in docs:
            if known.get(doc.id) == document_fingerprint(doc):
                report.unchanged.append(doc.id)
            else:
                todo.append(doc)
                (report.replaced if doc.id in known else report.added).append(doc.id)
        config = self._store_config() | _chunk_config(store)
        for i in range(0, len(todo), WRITE_BATCH):
            batch = todo[i : i + WRITE_BATCH]
            per_doc = chunk_documents(
                batch,
                self.embedder.count_tokens,
                int(config["chunk_tokens"]),
                int(config["chunk_overlap"]),
            )
            chunks: list[Chunk] = [c for doc_chunks in per_doc for c in doc_chunks]
            vectors = self.embedder.embed([c.text for c in chunks], progress=progress)
            store.add(batch, chunks, vectors)
            report.chunks += len(chunks)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def delete(self, doc_id: str) -> int:
        return self.store.delete(doc_id)

    def ensure_index(self) -> IndexReport | None:
        """Build the index from ``settings.corpus`` when there is none (first run)."""
        if self.index_exists() and self.store.count()[0] > 0:
            return None
        return self.index()

    def rebuild(
        self, paths: Iterable[str | Path] | None = None, *, progress: bool = False
    ) -> IndexReport:
        """Build a fresh index beside the current one and swap it in, so the old one stays usable
        until the new one is complete (and after a failure)."""
        target = self.settings.index_dir
        staging = target.with_name(target.name + ".building")
        shutil.rmtree(staging, ignore_errors=True)
        builder = QAService(self.settings.replace(index_dir=staging), embedder=self.embedder)
        report = builder.index(paths, progress=progress)
        builder.close()
        self.close()
        old = target.with_name(target.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        return report

    # -- reading -------------------------------------------------------------------------------

    def search(
        self, query: str, top_k: int | None = None, filters: Filters | dict[str, Any] | None = None
    ) -> list[Passage]:
        query = self._check_question(query)
        return self.retriever.search(query, self._check_top_k(top_k), _filters(filters))

    def batch_search(
        self,
        queries: list[str],
        top_k: int | None = None,
        filters: Filters | dict[str, Any] | None = None,
    ) -> list[list[Passage]]:
        queries = [self._check_question(q) for q in queries]
        return self.retriever.batch_search(queries, self._check_top_k(top_k), _filters(filters))

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        filters: Filters | dict[str, Any] | None = None,
    ) -> Result:
        return self.ask_batch([question], top_k, filters)[0]

    def ask_batch(
        self,
        questions: list[str],
        top_k: int | None = None,
        filters: Filters | dict[str, Any] | None = None,
    ) -> list[Result]:
        if not isinstance(questions, list):
            raise BadInput("questions must be a list of strings")
        if len(questions) > self.settings.max_batch:
            raise TooLarge(f"at most {self.settings.max_batch} questions per batch")
        questions = [self._check_question(q) for q in questions]
        k = self._check_top_k(top_k)
        flt = _filters(filters)
        if not questions:
            return []
        started = time.perf_counter()
        self.reader.warm_up()
        all_passages = self.retriever.batch_search(questions, k, flt)
        retrieve_ms = (time.perf_counter() - started) * 1000 / len(questions)
        results = []
        for question, passages in zip(questions, all_passages, strict=True):
            result = self.read(question, passages)
            result.timings_ms["retrieve"] = round(retrieve_ms, 2)
            result.timings_ms["total"] = round(retrieve_ms + result.timings_ms["total"], 2)
            results.append(result)
        return results

    def read(self, question: str, passages: list[Passage]) -> Result:
        """Reader and aggregation over given passages: what ``ask`` does after retrieval, and the
        reader-only ("gold passage") evaluation mode."""
        question = self._check_question(question)
        # passages come best first; one handed in without a rank takes its place in the list, as
        # the reader's fitted weights have only seen ranked passages (unranked read as unretrieved)
        passages = [p if p.rank > 0 else replace(p, rank=i) for i, p in enumerate(passages, 1)]
        started = time.perf_counter()
        reader = self.reader
        output = reader.read(question, passages, top_n=self.settings.max_answers * 4)
        read_done = time.perf_counter()
        threshold = (
            self.settings.answer_threshold
            if self.settings.answer_threshold is not None
            else reader.default_threshold
        )
        answers = aggregate(output, passages, threshold, self.settings.max_answers)
        done = time.perf_counter()
        return Result(
            question=question,
            answer=answers[0] if answers else None,
            answers=answers,
            passages=passages,
            timings_ms={
                "read": round((read_done - started) * 1000, 2),
                "cite": round((done - read_done) * 1000, 2),
                "total": round((done - started) * 1000, 2),
            },
            no_answer_score=round(float(output.no_answer), 4),
            threshold=threshold,
        )

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
            "index_dir": str(self.settings.index_dir),
            "index_format": FORMAT_VERSION,
            "embed_model": self.settings.embed_model,
            "reader": self.reader.name,
            "threshold": (
                self.settings.answer_threshold
                if self.settings.answer_threshold is not None
                else self.reader.default_threshold
            ),
        }

    # -- validation ----------------------------------------------------------------------------

    def _check_question(self, question: Any) -> str:
        if not isinstance(question, str):
            raise BadInput("question must be a string")
        question = check_text(question, "question").strip()
        if not question:
            raise BadInput("question is empty")
        if len(question) > self.settings.max_question_chars:
            raise TooLarge(
                f"question has {len(question)} characters; the limit is "
                f"{self.settings.max_question_chars}"
            )
        return question

    def _check_top_k(self, top_k: Any) -> int:
        if top_k is None:
            return self.settings.top_k
        if isinstance(top_k, bool) or not isinstance(top_k, int):
            raise BadInput("top_k must be an integer")
        if not 1 <= top_k <= self.settings.max_top_k:
            raise BadInput(f"top_k must be between 1 and {self.settings.max_top_k}")
        return top_k


def _filters(filters: Filters | dict[str, Any] | None) -> Filters | None:
    if filters is None or isinstance(filters, Filters):
        return filters
    if not isinstance(filters, dict):
        raise BadInput("filters must be an object")
    try:
        return Filters.from_dict(filters)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


def _chunk_config(store: Store) -> dict[str, Any]:
    """An existing index keeps the chunking it was built with (new documents chunk alike)."""
    config = getattr(store, "config", {})
    return {k: config[k] for k in ("chunk_tokens", "chunk_overlap") if k in config}
