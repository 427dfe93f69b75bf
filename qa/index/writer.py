"""The indexing path: files or documents -> chunks -> vectors -> one store transaction per batch.

Unchanged documents are skipped (the store's fingerprint of text and metadata), changed ones
replaced. Chunks follow the store's chunking settings, so new documents chunk like the stored
ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from qa.index.chunk import chunk_documents, split_oversized
from qa.index.embed import Embedder
from qa.settings import IndexSettings, LimitSettings, ModelSettings
from qa.store.base import Store, StoreConfig
from qa.types import Chunk, Document, IndexReport, LoadProblem

#: documents chunked together while the chunks of the ones before them are embedded
CHUNK_STEP = 32


class Indexer:
    def __init__(
        self,
        embedder: Embedder,
        indexing: IndexSettings,
        limits: LimitSettings,
        models: ModelSettings,
    ) -> None:
        self.embedder = embedder
        self.settings = indexing
        self.limits = limits
        self.models = models  # what a Ray actor needs to build its own embedder

    def load(self, paths: Iterable[str | Path] | None) -> tuple[list[Document], list[LoadProblem]]:
        """The documents of ``paths`` (the configured corpus when None), oversized ones split,
        with every file or document that could not be taken."""
        from qa.ingest.load import load_documents

        docs, problems = load_documents(
            list(paths) if paths is not None else self.settings.corpus,
            max_file_bytes=self.limits.max_file_bytes,
        )
        docs, too_long = split_oversized(docs, self.limits.max_document_chars)
        return docs, problems + too_long

    def add(
        self, store: Store, docs: list[Document], *, progress: bool = False, atomic: bool = True
    ) -> IndexReport:
        """Add or replace documents; unchanged ones are skipped.

        ``atomic``: every document is chunked and embedded first, then all are written in one
        store transaction, so a failure writes nothing (an upload is accepted or rejected whole).
        Otherwise (``qa index`` over a corpus, where memory must stay bounded) each batch of
        ``write_batch`` documents is one transaction; after a failure the index holds the batches
        committed before it, and a rerun skips them as unchanged."""
        started = time.perf_counter()
        report = IndexReport()
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
            chunks, vectors = self.prepare(batch, store.config, progress)
            with store.writing() as writer:
                writer.add(batch, chunks, vectors)
            report.chunks += len(chunks)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def rebuild(
        self, store: Store, config: StoreConfig, docs: list[Document], *, progress: bool = False
    ) -> IndexReport:
        """Replace the store's whole contents with ``docs`` in one write (``store.rebuilding``):
        readers keep the old contents until it commits; a failure leaves them."""
        report = IndexReport(added=[d.id for d in docs])
        batch_size = max(1, self.settings.write_batch)
        with store.rebuilding(config) as writer:
            for i in range(0, len(docs), batch_size):
                batch = docs[i : i + batch_size]
                chunks, vectors = self.prepare(batch, config, progress)
                writer.add(batch, chunks, vectors)
                report.chunks += len(chunks)
        return report

    def prepare(
        self, docs: list[Document], config: StoreConfig, progress: bool = False
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
            from qa.index import ray_engine

            texts = [c.text for c in chunks]
            address = self.settings.ray_address or None
            return chunks, ray_engine.embed(texts, self.models, address)
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
