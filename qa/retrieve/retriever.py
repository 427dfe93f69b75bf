"""Hybrid retrieval: dense (FAISS) and lexical (BM25 via bm25s), fused into one ranking.

Dense search finds paraphrases, BM25 finds rare names and numbers that MiniLM blurs. The default
fusion is a convex combination of the two lists' min-max normalised scores: unlike reciprocal
rank fusion it keeps how far ahead a first hit is (a BM25 hit on a rare name that towers over
the rest of its list is worth more than a narrow win). Min-max puts cosine and BM25 on one
scale within each question's candidates. RRF (``fusion="rrf"``) stays available; the choice
and the weight were made on held-out questions (``bench/fusion.py``).
"""

from __future__ import annotations

import itertools
import logging
import threading
from pathlib import Path

import faiss
import numpy as np

from qa.errors import DocumentNotFound
from qa.index.embed import Embedder
from qa.retrieve.lexical import LexicalIndex
from qa.store.base import Store
from qa.text.pages import is_paged, page_at, page_starts
from qa.types import Chunk, DocumentInfo, Filters, Passage

log = logging.getLogger(__name__)

#: Above this many chunks a BM25 rebuild takes seconds (about 15 s per 100k chunks on two cores):
#: searches then keep the previous index while a thread builds the next, rather than all waiting.
#: A stale index only lacks the newest chunks (dense search finds them meanwhile); chunks it holds
#: that were deleted are dropped when passages are fetched, and ids are never reused.
BACKGROUND_REBUILD_CHUNKS = 20_000

FUSIONS = ("convex", "rrf")


class Retriever:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        candidates: int = 50,
        rrf_k: int = 60,
        fusion: str = "convex",
        dense_weight: float = 0.5,
        background_rebuild_chunks: int = BACKGROUND_REBUILD_CHUNKS,
        lexical_dir: Path | None = None,
    ):
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
        if not 0.0 <= dense_weight <= 1.0:
            raise ValueError(f"dense_weight must be between 0 and 1, not {dense_weight}")
        self.fusion = fusion
        self.dense_weight = dense_weight
        self.background_rebuild_chunks = background_rebuild_chunks
        #: where BM25 indexes are saved and looked for (the index folder); None: memory only
        self.lexical_dir = lexical_dir
        self.lexical = LexicalIndex()
        self._lock = threading.Lock()
        self._rebuilding: threading.Thread | None = None
        # builds are numbered when they start; a slower, older one never replaces a newer one
        self._builds = itertools.count(1)
        self._installed = 0
        # document rows of the generation last synced: a search cites a handful of documents, and
        # asking SQLite for each one again was most of the cost of fetching its passages
        self._infos: dict[str, DocumentInfo] = {}
        self._infos_generation = -1
        #: where each page of a paged document (PDF) begins, cached like the document rows
        self._pages: dict[str, list[int]] = {}

    def sync(self, wait: bool = False) -> None:
        """Pick up writes (ours or another process's) before searching. A large lexical index is
        rebuilt in the background (see ``BACKGROUND_REBUILD_CHUNKS``) unless ``wait``."""
        with self._lock:
            self.store.refresh()
            generation = self.store.generation()
            if generation != self._infos_generation:
                self._infos = {}
                self._pages = {}
                self._infos_generation = generation
            if self.lexical.generation == generation:
                return
            if (
                wait
                or self.lexical.generation < 0
                or (self.lexical.size < self.background_rebuild_chunks)
            ):
                self._install(self._fresh(), next(self._builds))
            elif self._rebuilding is None or not self._rebuilding.is_alive():
                self._rebuilding = threading.Thread(
                    target=self._rebuild,
                    args=(next(self._builds),),
                    name="qa-bm25-rebuild",
                    daemon=True,
                )
                self._rebuilding.start()

    def _fresh(self) -> LexicalIndex:
        """The current generation's index: the saved one if there is one, else built (and saved
        for the next process)."""
        if self.lexical_dir is not None:
            loaded = LexicalIndex.load(
                self.lexical_dir, self.store.generation(), self.store.identity()
            )
            if loaded is not None:
                return loaded
        fresh = LexicalIndex()
        fresh.build(self.store)
        if self.lexical_dir is not None:
            try:
                fresh.save(self.lexical_dir)
            except OSError as exc:  # e.g. a read-only index: serve from memory
                log.warning("could not save the BM25 index in %s: %s", self.lexical_dir, exc)
        return fresh

    def _install(self, fresh: LexicalIndex, build: int) -> None:
        """Caller holds the lock. Searches in flight finish on the index they started with."""
        if build > self._installed:
            self.lexical = fresh
            self._installed = build

    def _rebuild(self, build: int) -> None:
        try:
            fresh = self._fresh()
        except Exception:  # the previous index keeps serving; the next search tries again
            log.exception("rebuilding the BM25 index failed")
            return
        with self._lock:
            self._install(fresh, build)

    def wait_for_rebuild(self, timeout: float | None = None) -> bool:
        """Block until a background rebuild finishes; False if it is still running."""
        thread = self._rebuilding
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def search(
        self,
        query: str,
        top_k: int,
        filters: Filters | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Passage]:
        self.sync()
        _one_openmp_thread()
        allowed = None if filters is None or filters.is_empty() else self.store.chunk_ids(filters)
        pool = max(self.candidates, top_k)
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
        scores = fuse(dense, lexical, self.fusion, self.dense_weight, self.rrf_k)
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


def fuse(
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    fusion: str = "convex",
    dense_weight: float = 0.5,
    rrf_k: int = 60,
) -> dict[int, dict[str, float]]:
    """Each candidate chunk's scores, ranks and ``fused`` score from two best-first lists of
    (chunk id, score). Convex: a chunk absent from a list counts as that list's minimum."""
    scores: dict[int, dict[str, float]] = {}
    for name, hits, weight in (("dense", dense, dense_weight), ("bm25", lexical, 1 - dense_weight)):
        if not hits:
            continue
        lo = min(score for _, score in hits)
        span = max(score for _, score in hits) - lo
        for rank, (cid, score) in enumerate(hits, start=1):
            entry = scores.setdefault(cid, {"fused": 0.0})
            entry[name] = score
            entry[f"{name}_rank"] = float(rank)
            if fusion == "rrf":
                entry["fused"] += 1.0 / (rrf_k + rank)
            else:
                entry["fused"] += weight * ((score - lo) / span if span > 0 else 1.0)
    return scores


_threads = threading.local()


def _one_openmp_thread() -> None:
    """One query is too small to split across cores: FAISS would start an OpenMP team for every
    search, and its threads spin at each barrier, costing far more CPU than the search itself
    (milliseconds instead of microseconds, and worse when the cores are busy). The setting is
    per thread (each server thread sets it once), so bulk work elsewhere keeps its threads."""
    if not getattr(_threads, "set", False):
        faiss.omp_set_num_threads(1)
        _threads.set = True


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
