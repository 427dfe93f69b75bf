"""Hybrid retrieval: dense (FAISS) and lexical (BM25 via bm25s), fused by reciprocal rank.

RRF needs no score normalization, which matters because cosine and BM25 live on unrelated scales:
dense search finds paraphrases, BM25 finds rare names and numbers that MiniLM blurs, and a chunk
that both rank high wins.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import bm25s
import numpy as np

from qa.embed import Embedder
from qa.store.base import Store
from qa.types import Chunk, DocumentInfo, Filters, Passage

log = logging.getLogger(__name__)
# bm25s logs every index build at DEBUG through its own handler; that is noise for our users.
logging.getLogger("bm25s").setLevel(logging.WARNING)


def _stemmer() -> Any:
    import Stemmer  # PyStemmer: the stemmer bm25s recommends, a C extension

    return Stemmer.Stemmer("english")


#: Above this many chunks a BM25 rebuild takes seconds (about 15 s per 100k chunks on two cores):
#: searches then keep the previous index while a thread builds the next, rather than all waiting.
#: A stale index only lacks the newest chunks (dense search finds them meanwhile); chunks it holds
#: that were deleted are dropped when passages are fetched, and ids are never reused.
BACKGROUND_REBUILD_CHUNKS = 20_000


class LexicalIndex:
    """BM25 over every chunk of one store generation; replaced, never updated, when it moves."""

    def __init__(self) -> None:
        self._stemmer = _stemmer()
        self._bm25: bm25s.BM25 | None = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._pos: dict[int, int] = {}
        self.generation = -1

    @property
    def size(self) -> int:
        return len(self._ids)

    def build(self, store: Store) -> None:
        # read first: a write during the build then leaves this index behind, not falsely current
        generation = store.generation()
        ids, texts = [], []
        for stored in store.chunks():
            ids.append(stored.id)
            texts.append(stored.chunk.text)
        self._ids = np.array(ids, dtype=np.int64)
        self._pos = {cid: i for i, cid in enumerate(ids)}
        if texts:
            tokens = self._tokenize(texts)
            bm25 = bm25s.BM25()
            bm25.index(tokens, show_progress=False)
            self._bm25 = bm25
        else:
            self._bm25 = None
        self.generation = generation

    def _tokenize(self, texts: list[str]) -> list[list[str]]:
        tokens = bm25s.tokenize(
            texts, stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        assert isinstance(tokens, list)
        return tokens

    def search(self, query: str, k: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        if self._bm25 is None or k <= 0:
            return []
        q = self._tokenize([query])[0]
        if not q:
            return []
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self._ids), dtype=np.float32)
            mask[[self._pos[c] for c in allowed if c in self._pos]] = 1.0
        scores = self._bm25.get_scores(q, weight_mask=mask)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self._ids[i]), float(scores[i])) for i in top if scores[i] > 0]


class Retriever:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        candidates: int = 50,
        rrf_k: int = 60,
        background_rebuild_chunks: int = BACKGROUND_REBUILD_CHUNKS,
    ):
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.background_rebuild_chunks = background_rebuild_chunks
        self.lexical = LexicalIndex()
        self._lock = threading.Lock()
        self._rebuilding: threading.Thread | None = None

    def sync(self, wait: bool = False) -> None:
        """Pick up writes (ours or another process's) before searching. A large lexical index is
        rebuilt in the background (see ``BACKGROUND_REBUILD_CHUNKS``) unless ``wait``."""
        with self._lock:
            self.store.refresh()
            if self.lexical.generation == self.store.generation():
                return
            if (
                wait
                or self.lexical.generation < 0
                or (self.lexical.size < self.background_rebuild_chunks)
            ):
                fresh = LexicalIndex()
                fresh.build(self.store)
                self.lexical = fresh  # searches in flight finish on the index they started with
            elif self._rebuilding is None or not self._rebuilding.is_alive():
                self._rebuilding = threading.Thread(
                    target=self._rebuild, name="qa-bm25-rebuild", daemon=True
                )
                self._rebuilding.start()

    def _rebuild(self) -> None:
        fresh = LexicalIndex()
        try:
            fresh.build(self.store)
        except Exception:  # the previous index keeps serving; the next search tries again
            log.exception("rebuilding the BM25 index failed")
            return
        with self._lock:
            if fresh.generation > self.lexical.generation:
                self.lexical = fresh

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
        allowed = None if filters is None or filters.is_empty() else self.store.chunk_ids(filters)
        pool = max(self.candidates, top_k)
        if query_vector is None:
            query_vector = self.embedder.embed_query(query)
        dense = self.store.search(query_vector, pool, allowed)
        lexical = self.lexical.search(query, pool, allowed)
        return self._fuse(dense, lexical, top_k)

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
        scores: dict[int, dict[str, float]] = {}
        for name, hits in (("dense", dense), ("bm25", lexical)):
            for rank, (cid, score) in enumerate(hits, start=1):
                entry = scores.setdefault(cid, {"rrf": 0.0})
                entry[name] = score
                entry[f"{name}_rank"] = float(rank)
                entry["rrf"] += 1.0 / (self.rrf_k + rank)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1]["rrf"], kv[0]))[:top_k]
        chunks = self.store.get_chunks([cid for cid, _ in ranked])
        docs: dict[str, DocumentInfo] = {}
        passages = []
        for rank, (cid, entry) in enumerate(ranked, start=1):
            chunk = chunks.get(cid)
            if chunk is None:  # deleted between search and fetch
                continue
            if chunk.doc_id not in docs:
                docs[chunk.doc_id] = self.store.document_info(chunk.doc_id)
            passages.append(_passage(chunk, docs[chunk.doc_id], entry, rank))
        return passages


def _passage(chunk: Chunk, info: DocumentInfo, entry: dict[str, float], rank: int) -> Passage:
    return Passage(
        doc_id=chunk.doc_id,
        chunk_index=chunk.index,
        start=chunk.start,
        end=chunk.end,
        text=chunk.text,
        title=info.title,
        source=info.source,
        date=info.date,
        url=info.url,
        path=info.path,
        score=entry["rrf"],
        rank=rank,
        scores=dict(entry),
    )
