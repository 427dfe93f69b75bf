"""Hybrid retrieval: dense (the store's vectors) and lexical (BM25 via bm25s), fused into one
ranking (``qa.retrieve.fusion``), each passage with its document's metadata and page.

Dense search finds paraphrases, BM25 finds rare names and numbers that MiniLM blurs.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from qa.errors import DocumentNotFound
from qa.index.embed import Embedder
from qa.retrieve.fusion import check_fusion, fuse
from qa.retrieve.lexical import LexicalIndex
from qa.retrieve.upkeep import BACKGROUND_REBUILD_CHUNKS, LexicalUpkeep
from qa.settings import RetrievalSettings
from qa.store.base import Store
from qa.text.pages import is_paged, page_at, page_starts
from qa.types import Chunk, DocumentInfo, Filters, Passage


class Retriever:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        settings: RetrievalSettings | None = None,
        *,
        background_rebuild_chunks: int = BACKGROUND_REBUILD_CHUNKS,
        lexical_dir: Path | None = None,
    ):
        self.store = store
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()
        check_fusion(self.settings.fusion, self.settings.dense_weight)
        #: BM25, kept at the store's generation; saved in ``lexical_dir`` (None: memory only)
        self.upkeep = LexicalUpkeep(store, lexical_dir, background_rebuild_chunks)
        self._lock = threading.Lock()
        # document rows of the generation last synced: a search cites a handful of documents, and
        # asking SQLite for each one again was most of the cost of fetching its passages
        self._infos: dict[str, DocumentInfo] = {}
        self._infos_generation = -1
        #: where each page of a paged document (PDF) begins, cached like the document rows
        self._pages: dict[str, list[int]] = {}

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index searches use now."""
        return self.upkeep.index

    def sync(self, wait: bool = False) -> None:
        """Pick up writes (ours or another process's) before searching. A large lexical index is
        rebuilt in the background (see ``qa.retrieve.upkeep``) unless ``wait``."""
        with self._lock:
            self.store.refresh()
            generation = self.store.generation()
            if generation != self._infos_generation:
                self._infos = {}
                self._pages = {}
                self._infos_generation = generation
            self.upkeep.sync(generation, wait)

    def wait_for_rebuild(self, timeout: float | None = None) -> bool:
        """Block until a background rebuild finishes; False if it is still running."""
        return self.upkeep.wait(timeout)

    def search(
        self,
        query: str,
        top_k: int,
        filters: Filters | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Passage]:
        self.sync()
        allowed = None if filters is None or filters.is_empty() else self.store.chunk_ids(filters)
        pool = max(self.settings.candidates, top_k)
        if query_vector is None:
            query_vector = self.embedder.embed_query(query)
        dense, lexical = self.candidates_for(query, query_vector, pool, allowed)
        return self._fuse(dense, lexical, top_k)

    def candidates_for(
        self, query: str, query_vector: np.ndarray, depth: int, allowed: set[int] | None = None
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """The dense and BM25 lists (chunk id, score), best first, that fusion combines."""
        dense = [(h.chunk_id, h.score) for h in self.store.search(query_vector, depth, allowed)]
        return dense, self.lexical.search(query, depth, allowed)

    def batch_search(
        self, queries: list[str], top_k: int, filters: Filters | None = None
    ) -> list[list[Passage]]:
        """One embedding call for all queries: batching is where the encoder's speed is."""
        vectors = self.embedder.embed(queries)
        return [
            self.search(q, top_k, filters, query_vector=v)
            for q, v in zip(queries, vectors, strict=True)
        ]

    def _fuse(
        self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]], top_k: int
    ) -> list[Passage]:
        s = self.settings
        scores = fuse(dense, lexical, s.fusion, s.dense_weight, s.rrf_k)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1]["fused"], kv[0]))[:top_k]
        chunks = self.store.get_chunks([cid for cid, _ in ranked])
        passages = []
        for rank, (cid, entry) in enumerate(ranked, start=1):
            chunk = chunks.get(cid)
            if chunk is None:  # deleted between search and fetch
                continue
            try:
                info = self._document_info(chunk.doc_id)
            except DocumentNotFound:  # deleted between fetching its chunk and its document
                continue
            passage = _passage(chunk, info, entry, rank)
            if is_paged(info.path):
                try:
                    passage.page = page_at(self._page_starts(chunk.doc_id), chunk.start)
                except DocumentNotFound:
                    continue
            passages.append(passage)
        return passages

    def _page_starts(self, doc_id: str) -> list[int]:
        """Read once per generation: only paged documents need their text for this."""
        starts = self._pages.get(doc_id)
        if starts is None:
            starts = page_starts(self.store.get_document(doc_id).text)
            self._pages[doc_id] = starts
        return starts

    def _document_info(self, doc_id: str) -> DocumentInfo:
        """From the cache of the synced generation (a write moves the generation and empties
        it; a document deleted since reads as missing from the store, as before)."""
        info = self._infos.get(doc_id)
        if info is None:
            info = self.store.document_info(doc_id)
            self._infos[doc_id] = info
        return info


def _passage(chunk: Chunk, info: DocumentInfo, entry: dict[str, float], rank: int) -> Passage:
    return Passage(
        doc_id=chunk.doc_id,
        chunk_index=chunk.index,
        start=chunk.start,
        end=chunk.end,
        text=chunk.text,
        meta=info.meta,
        score=entry["fused"],
        rank=rank,
        scores=dict(entry),
    )
