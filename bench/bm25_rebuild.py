"""What a write costs the searches that follow it on a large index: the BM25 rebuild.

    python bench/bm25_rebuild.py                   # 20k and 100k chunks
    python bench/bm25_rebuild.py --sizes 50000 --searches 50

The store holds N chunks, SQuAD 1.1 dev paragraphs repeated under distinct ids, with random unit
vectors (embedding 100k chunks would take an hour here and is not what is measured; FAISS search
costs the same). After one more document is added, searches run two ways:

* foreground: every search waits for the lexical index to be rebuilt and saved (the behaviour below
  ``qa.retrieve.upkeep.BACKGROUND_REBUILD_CHUNKS`` chunks, and the only one before it existed);
* background: searches keep the previous BM25 index while a thread builds the next.

Reports the first search's latency after the write, the p50 of the searches issued while the
rebuild runs, and the rebuild's own time. Also what opening the index costs: building BM25 (and
saving it beside the store) against loading that save, as the next process does. Writes
bench/results/bm25-rebuild.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import SHARED_DATA, peak_rss_mb, shared_data, table, write_result

from qa.retrieve import Retriever
from qa.store import StoreConfig
from qa.store.faiss_sqlite import FaissSqliteStore
from qa.types import Chunk, Document, Meta

DIM = 384
QUESTIONS = [
    "Which NFL team represented the AFC at Super Bowl 50?",
    "What is the atomic number of oxygen?",
    "Who was the leader of the Normans?",
    "When did the Huguenots arrive in South Africa?",
    "What does the Intergovernmental Panel on Climate Change assess?",
]


def paragraphs() -> list[str]:
    path = shared_data(SHARED_DATA / "squad1-dev-public.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    return [p["context"] for a in data["data"] for p in a["paragraphs"]]


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def fill(store: FaissSqliteStore, n: int, texts: list[str], rng: np.random.Generator) -> None:
    batch = 5000
    for lo in range(0, n, batch):
        docs, chunks = [], []
        for i in range(lo, min(n, lo + batch)):
            text = texts[i % len(texts)]
            docs.append(Document(f"d{i}", text, meta=Meta(f"d{i}")))
            chunks.append(Chunk(f"d{i}", 0, 0, len(text), text))
        store.add(docs, chunks, unit(rng, len(chunks)))


def after_write(
    store: FaissSqliteStore, background: bool, n: int, searches: int, rng: np.random.Generator,
    lexical_dir: Path,
) -> dict[str, Any]:
    threshold = 1 if background else n * 10
    retriever = Retriever(store, None, background_rebuild_chunks=threshold,  # type: ignore[arg-type]
                          lexical_dir=lexical_dir)
    retriever.sync()
    text = "Zorbulan quintessa was elected mayor of a city that does not exist."
    store.add([Document(f"new-{background}", text, meta=Meta("new"))],
              [Chunk(f"new-{background}", 0, 0, len(text), text)], unit(rng, 1))
    written = time.perf_counter()
    latencies = []
    vectors = unit(rng, searches)
    for i in range(searches):
        t = time.perf_counter()
        retriever.search(QUESTIONS[i % len(QUESTIONS)], 5, query_vector=vectors[i])
        latencies.append((time.perf_counter() - t) * 1000)
        if background and retriever.wait_for_rebuild(0):
            break
    retriever.wait_for_rebuild()
    rebuilt_s = time.perf_counter() - written
    return {
        "mode": "background" if background else "foreground",
        "first_search_ms": round(latencies[0], 1),
        "searches_during_rebuild": len(latencies),
        "p50_search_ms": round(statistics.median(latencies), 1),
        "write_to_fresh_bm25_s": round(rebuilt_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--searches", type=int, default=5000,
                        help="searches issued after the write (background: until it is done)")
    args = parser.parse_args()
    texts = paragraphs()
    rows, runs = [], []
    for n in args.sizes:
        rng = np.random.default_rng(n)
        tmp = Path(tempfile.mkdtemp(prefix="bench-bm25-"))
        try:
            config = StoreConfig("random", "-", DIM, chunk_tokens=256, chunk_overlap=0)
            store = FaissSqliteStore(tmp / "index", config, create=True)
            t = time.perf_counter()
            fill(store, n, texts, rng)
            fill_s = time.perf_counter() - t
            t = time.perf_counter()
            Retriever(store, None, lexical_dir=tmp / "index").sync()  # type: ignore[arg-type]
            build_s = time.perf_counter() - t  # tokenize, index and save
            t = time.perf_counter()
            warm = Retriever(store, None, lexical_dir=tmp / "index")  # type: ignore[arg-type]
            warm.sync()  # what the next process (a worker, a CLI run) does
            load_s = time.perf_counter() - t
            assert warm.lexical.source == "loaded"
            for background in (False, True):
                # foreground issues few searches: each waits for a whole rebuild
                r = after_write(store, background, n, 3 if not background else args.searches, rng,
                                tmp / "index")
                r.update(chunks=n, first_build_s=round(build_s, 2), load_saved_s=round(load_s, 2),
                         fill_s=round(fill_s, 1))
                runs.append(r)
                rows.append([n, r["mode"], r["first_search_ms"], r["p50_search_ms"],
                             r["searches_during_rebuild"], r["write_to_fresh_bm25_s"]])
            store.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(table(["chunks", "mode", "first search ms", "p50 search ms", "searches",
                 "write -> fresh BM25 s"], rows))
    starts = {r["chunks"]: (r["first_build_s"], r["load_saved_s"]) for r in runs}
    print(table(["chunks", "open: build + save s", "open: load saved s"],
                [[n, b, w] for n, (b, w) in starts.items()]))
    path = write_result("bm25-rebuild", {"runs": runs, "peak_rss_mb": peak_rss_mb()})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
