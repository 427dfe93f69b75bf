"""The library's front door: index articles, ask questions, get cited extractive answers.

Construction is cheap; the embedder, the reader and the index open on first use (or in
``warm_up``), once per process. The HTTP layer and the CLI are thin wrappers over this class, so a
script gets exactly what a user of the service gets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.answers import aggregate
from qa.chunk import chunk_documents, split_oversized
from qa.embed import Embedder
from qa.errors import BadInput, TooLarge
from qa.readers import Reader, make_reader
from qa.retrieve import Retriever
from qa.settings import Settings
from qa.store import Store, StoreConfig, open_store, store_exists
from qa.types import (
    Chunk,
    Document,
    DocumentInfo,
    Filters,
    IndexReport,
    LoadProblem,
    Passage,
    Result,
)
from qa.validate import check_text, check_top_k

log = logging.getLogger(__name__)

#: documents chunked together while the chunks of the ones before them are embedded
CHUNK_STEP = 32


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
        self._store_checked = False
        self._retriever: Retriever | None = None
        self._lock = threading.RLock()

    # -- lazy components -----------------------------------------------------------------------

    @property
    def reader(self) -> Reader:
        with self._lock:
            if self._reader is None:
                self._reader = make_reader(self.settings)
            return self._reader

    @property
    def store(self) -> Store:
        """Opening an existing store loads no model (listing and deleting documents need none);
        creating one needs the embedder's dimension."""
        with self._lock:
            if self._store is None:
                config = None if store_exists(self.settings) else self._store_config()
                self._store = open_store(self.settings, config)
                self._store_checked = config is not None
            return self._store

    def _checked_store(self) -> Store:
        """The store, checked against this service's embedding model before a vector crosses."""
        with self._lock:
            store = self.store
            if not self._store_checked:
                store.check(self._store_config())
                self._store_checked = True
            return store

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(
                    self._checked_store(),
                    self.embedder,
                    self.settings.candidates,
                    self.settings.rrf_k,
                    fusion=self.settings.fusion,
                    dense_weight=self.settings.dense_weight,
                    lexical_dir=self.settings.index_dir,
                )
            return self._retriever

    def _store_config(self) -> StoreConfig:
        return StoreConfig(
            model=self.settings.embed_model,
            # the variant too (torch, ONNX int8): their vectors differ slightly
            model_fingerprint=self.embedder.fingerprint,
            dimension=self.embedder.dimension,
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
        )

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
        return store_exists(self.settings)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = None
            self._store_checked = False
            self._retriever = None

    # -- writing -------------------------------------------------------------------------------

    def index(
        self, paths: Iterable[str | Path] | None = None, *, progress: bool = False
    ) -> IndexReport:
        """Load files and add them; unchanged documents are skipped, changed ones replaced."""
        started = time.perf_counter()
        return self._add_loaded(*self._load(paths), started=started, progress=progress)

    def _add_loaded(
        self,
        docs: list[Document],
        problems: list[LoadProblem],
        *,
        started: float,
        progress: bool = False,
    ) -> IndexReport:
        report = self.add_documents(docs, progress=progress, atomic=False)
        report.problems = problems + report.problems
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _load(self, paths: Iterable[str | Path] | None) -> tuple[list[Document], list[LoadProblem]]:
        """The documents of ``paths`` (the configured corpus when None), oversized ones split,
        with every file or document that could not be taken."""
        from qa.load import load_documents

        docs, problems = load_documents(
            list(paths) if paths is not None else self.settings.corpus,
            max_file_bytes=self.settings.max_file_bytes,
        )
        docs, too_long = split_oversized(docs, self.settings.max_document_chars)
        return docs, problems + too_long

    def add_documents(
        self, docs: list[Document], *, progress: bool = False, atomic: bool = True
    ) -> IndexReport:
        """Add or replace documents; unchanged ones are skipped.

        ``atomic``: every document is chunked and embedded first, then all are written in one
        store transaction, so a failure writes nothing (an upload is accepted or rejected whole).
        Otherwise (``qa index`` over a corpus, where memory must stay bounded) each batch of
        ``settings.write_batch`` documents is one transaction; after a failure the index holds
        the batches committed before it, and a rerun skips them as unchanged."""
        started = time.perf_counter()
        report = IndexReport()
        store = self._checked_store()
        known = store.fingerprints()
        todo = []
        for doc in docs:
            if known.get(doc.id) == store.fingerprint(doc):
                report.unchanged.append(doc.id)
            else:
                todo.append(doc)
                (report.replaced if doc.id in known else report.added).append(doc.id)
        size = max(1, len(todo)) if atomic else max(1, self.settings.write_batch)
        for i in range(0, len(todo), size):
            batch = todo[i : i + size]
            chunks, vectors = self._prepare(batch, store.config, progress)
            with store.writing() as writer:
                writer.add(batch, chunks, vectors)
            report.chunks += len(chunks)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _prepare(
        self, docs: list[Document], config: StoreConfig, progress: bool
    ) -> tuple[list[Chunk], np.ndarray]:
        """Chunk with the store's chunking (new documents chunk like the stored ones) and embed.

        Documents are chunked ``CHUNK_STEP`` at a time on a thread of their own while the
        chunks before them are embedded: sentence splitting runs on one core, and alone it
        would leave the others idle for a tenth of an indexing run. The chunks and vectors are
        those of chunking and embedding all at once (documents chunk independently, and every
        text is embedded alone), in the same order."""

        def chunk(part: list[Document]) -> list[Chunk]:
            per_doc = chunk_documents(
                part, self.embedder.count_tokens, config.chunk_tokens, config.chunk_overlap
            )
            return [c for doc_chunks in per_doc for c in doc_chunks]

        if self.settings.index_engine == "ray":
            chunks = chunk(docs)
            if not chunks:
                return chunks, self.embedder.embed([], progress=progress)
            from qa import index_ray

            texts = [c.text for c in chunks]
            return chunks, index_ray.embed(texts, self.settings, self.settings.ray_address or None)
        parts = [docs[i : i + CHUNK_STEP] for i in range(0, len(docs), CHUNK_STEP)]
        if len(parts) <= 1:
            chunks = chunk(docs)
            return chunks, self.embedder.embed([c.text for c in chunks], progress=progress)
        all_chunks: list[Chunk] = []
        vectors: list[np.ndarray] = []
        with ThreadPoolExecutor(1, thread_name_prefix="qa-chunk") as pool:
            ahead = pool.submit(chunk, parts[0])
            for following in [*parts[1:], None]:
                chunks = ahead.result()
                if following is not None:
                    ahead = pool.submit(chunk, following)
                try:
                    vectors.append(self.embedder.embed([c.text for c in chunks], progress))
                except BaseException:
                    ahead.cancel()
                    raise
                all_chunks += chunks
        return all_chunks, np.concatenate(vectors)

    def delete(self, doc_id: str) -> int:
        return self.store.delete(doc_id)

    def ensure_index(self) -> IndexReport | None:
        """Build the index from ``settings.corpus`` when there is none or it is empty (first
        run); None when there is one. When the corpus gives no document, the report says why
        and nothing is created: an empty index where none was would answer every question
        "no answer" and look built."""
        if self.index_exists() and self.store.count()[0] > 0:
            return None
        started = time.perf_counter()
        docs, problems = self._load(None)
        if not docs:
            return IndexReport(problems=problems, seconds=round(time.perf_counter() - started, 3))
        return self._add_loaded(docs, problems, started=started)

    def rebuild(
        self, paths: Iterable[str | Path] | None = None, *, progress: bool = False
    ) -> IndexReport:
        """Replace the whole index with these files (another embedding model or chunking may be
        set). The store does it as one write: servers on the index keep answering from the old
        contents until it commits, then from the new; a failure leaves the old index."""
        started = time.perf_counter()
        docs, problems = self._load(paths)
        config = self._store_config()
        with self._lock:
            if self._store is None:
                self._store = open_store(
                    self.settings, None if store_exists(self.settings) else config
                )
            store = self._store
        report = IndexReport(problems=problems, added=[d.id for d in docs])
        with store.rebuilding(config) as writer:
            for i in range(0, len(docs), max(1, self.settings.write_batch)):
                batch = docs[i : i + self.settings.write_batch]
                chunks, vectors = self._prepare(batch, config, progress)
                writer.add(batch, chunks, vectors)
                report.chunks += len(chunks)
        self._store_checked = True
        report.seconds = round(time.perf_counter() - started, 3)
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
        read = self.with_dense_scores(question, passages[: max(1, self.settings.reader_passages)])
        reader = self.reader
        output = reader.read(question, read, top_n=self.settings.max_answers * 4)
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

    def with_dense_scores(self, question: str, passages: list[Passage]) -> list[Passage]:
        """Every passage with its cosine to the question: the reader's confidence weighs how
        close the passages are to the question, and a passage that BM25 alone found, or one
        handed in directly, comes without it."""
        missing = [i for i, p in enumerate(passages) if "dense" not in p.scores]
        if not missing:
            return passages
        query = self.embedder.embed_query(question)
        vectors = self.embedder.embed([passages[i].text for i in missing])
        out = list(passages)
        for i, vector in zip(missing, vectors, strict=True):
            cosine = round(float(np.dot(vector, query)), 6)
            out[i] = replace(out[i], scores={**out[i].scores, "dense": cosine})
        return out

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
            "store": self.store.kind,
            "index_format": self.store.format_version,
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
        question = check_text(question, "question")
        # the limit applies to what was sent (as the spec states it), spaces included
        if len(question) > self.settings.max_question_chars:
            raise TooLarge(
                f"question has {len(question)} characters; the limit is "
                f"{self.settings.max_question_chars}"
            )
        question = question.strip()
        if not question:
            raise BadInput("question is empty")
        return question

    def _check_top_k(self, top_k: Any) -> int:
        if top_k is None:
            return self.settings.top_k
        return check_top_k(top_k, self.settings.max_top_k)


def _filters(filters: Filters | dict[str, Any] | None) -> Filters | None:
    if filters is None or isinstance(filters, Filters):
        return filters
    if not isinstance(filters, dict):
        raise BadInput("filters must be an object")
    try:
        return Filters.from_dict(filters)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
