"""The stages wired from one ``Settings``: embedder, store, retriever, reader and indexer, each
made on first use (or in ``warm_up``) and once per process, and the two runs that cross stages:
``ask`` (retrieve -> read -> cite) and ``read`` (read -> cite over given passages).

``QAService`` puts its checks and its threshold in front of this; evaluation runs the same stages
with a threshold of its own, so it needs no second service.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from qa.cite.answers import aggregate
from qa.cite.refusal import explain_refusal
from qa.index.embed import Embedder
from qa.index.writer import Indexer
from qa.read import Reader, answer_threshold, make_reader
from qa.retrieve import Retriever, with_dense_scores
from qa.settings import Settings
from qa.store import Store, StoreConfig, open_store, store_exists
from qa.types import Document, Filters, IndexReport, LoadProblem, Passage, Result


class Pipeline:
    def __init__(
        self, settings: Settings, *, reader: Reader | None = None, embedder: Embedder | None = None
    ) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder.from_settings(settings.models)
        self.indexer = Indexer(self.embedder, settings.indexing, settings.limits, settings.models)
        self._reader = reader
        self._store: Store | None = None
        self._store_checked = False
        self._retriever: Retriever | None = None
        self._lock = threading.RLock()

    # -- the stages, made on first use -----------------------------------------------------------

    @property
    def reader(self) -> Reader:
        with self._lock:
            if self._reader is None:
                self._reader = make_reader(self.settings.models)
            return self._reader

    @property
    def store(self) -> Store:
        """Opening an existing store loads no model (listing and deleting documents need none);
        creating one needs the embedder's dimension."""
        with self._lock:
            if self._store is None:
                exists = store_exists(self.settings.storage)
                config = None if exists else self.store_config()
                self._store = open_store(self.settings.storage, config)
                self._store_checked = config is not None
            return self._store

    def checked_store(self) -> Store:
        """The store, checked against this embedder before a vector crosses."""
        with self._lock:
            store = self.store
            if not self._store_checked:
                store.check(self.store_config())
                self._store_checked = True
            return store

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(
                    self.checked_store(),
                    self.embedder,
                    self.settings.retrieval,
                    lexical_dir=self.settings.storage.index_dir,
                )
            return self._retriever

    def store_config(self) -> StoreConfig:
        return StoreConfig(
            model=self.settings.models.embed_model,
            # the variant too (torch, ONNX int8): their vectors differ slightly
            model_fingerprint=self.embedder.fingerprint,
            dimension=self.embedder.dimension,
            chunk_tokens=self.settings.indexing.chunk_tokens,
            chunk_overlap=self.settings.indexing.chunk_overlap,
        )

    def threshold(self) -> float:
        return answer_threshold(self.settings.reading, self.reader)

    def index_exists(self) -> bool:
        return store_exists(self.settings.storage)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = None
            self._store_checked = False
            self._retriever = None

    # -- writing ---------------------------------------------------------------------------------

    def add(
        self, docs: list[Document], *, progress: bool = False, atomic: bool = True
    ) -> IndexReport:
        return self.indexer.add(self.checked_store(), docs, progress=progress, atomic=atomic)

    def index(self, paths: Iterable[str | Path] | None, *, progress: bool = False) -> IndexReport:
        """Load files and add them, a batch per transaction."""
        started = time.perf_counter()
        docs, problems = self.indexer.load(paths)
        return self._add_loaded(docs, problems, started, progress=progress)

    def _add_loaded(
        self,
        docs: list[Document],
        problems: list[LoadProblem],
        started: float,
        *,
        progress: bool = False,
    ) -> IndexReport:
        report = self.add(docs, progress=progress, atomic=False)
        report.problems = problems + report.problems
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def ensure_index(self) -> IndexReport | None:
        """Build the index from the configured corpus when there is none or it is empty (first
        run); None when there is one. When the corpus gives no document, the report says why
        and nothing is created: an empty index where none was would answer every question
        "no answer" and look built."""
        if self.index_exists() and self.store.count()[0] > 0:
            return None
        started = time.perf_counter()
        docs, problems = self.indexer.load(None)
        if not docs:
            return IndexReport(problems=problems, seconds=round(time.perf_counter() - started, 3))
        return self._add_loaded(docs, problems, started)

    def rebuild(self, paths: Iterable[str | Path] | None, *, progress: bool = False) -> IndexReport:
        started = time.perf_counter()
        docs, problems = self.indexer.load(paths)
        config = self.store_config()
        with self._lock:
            if self._store is None:
                exists = store_exists(self.settings.storage)
                self._store = open_store(self.settings.storage, None if exists else config)
            store = self._store
        report = self.indexer.rebuild(store, config, docs, progress=progress)
        report.problems = problems
        self._store_checked = True
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    # -- reading ---------------------------------------------------------------------------------

    def ask(
        self, questions: list[str], top_k: int, filters: Filters | None, threshold: float
    ) -> list[Result]:
        """Retrieve for every question at once (one encoder call), then read and cite each."""
        started = time.perf_counter()
        self.reader.warm_up()
        all_passages = self.retriever.batch_search(questions, top_k, filters)
        retrieve_ms = (time.perf_counter() - started) * 1000 / len(questions)
        results = []
        for question, passages in zip(questions, all_passages, strict=True):
            result = self.read(question, passages, threshold)
            result.timings_ms["retrieve"] = round(retrieve_ms, 2)
            result.timings_ms["total"] = round(retrieve_ms + result.timings_ms["total"], 2)
            results.append(result)
        return results

    def read(self, question: str, passages: list[Passage], threshold: float) -> Result:
        """The reader over the first passages, and its answers at or above ``threshold`` cited."""
        # passages come best first; one handed in without a rank takes its place in the list, as
        # the reader's fitted weights have only seen ranked passages (unranked read as unretrieved)
        passages = [p if p.rank > 0 else replace(p, rank=i) for i, p in enumerate(passages, 1)]
        reading = self.settings.reading
        started = time.perf_counter()
        read = with_dense_scores(
            self.embedder, question, passages[: max(1, reading.reader_passages)]
        )
        output = self.reader.read(question, read, top_n=reading.max_answers * 4)
        read_done = time.perf_counter()
        answers = aggregate(output, passages, threshold, reading.max_answers)
        refusal = None if answers else explain_refusal(question, output, passages, threshold)
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
            refusal=refusal,
        )
