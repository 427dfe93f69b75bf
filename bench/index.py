"""Index build speed: chunks/s and documents/s to index N articles from scratch, with peak memory.
Each size runs in its own process so its peak RSS is its own.

    python bench/index.py                         # seeds repeated: 25 and 100 articles
    python bench/index.py --sizes 50 200 --source squad   # SQuAD 2.0 dev paragraphs

The corpus: the five seeds repeated under distinct ids (news articles, several chunks each), or
the paragraphs of ../shared/data/squad2-dev-public.json (one short chunk each). Model loading
(embedder, sentence splitter) is timed apart from indexing. Writes
bench/results/index-<source>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, SHARED_DATA, peak_rss_mb, shared_data, table, write_result


def corpus(source: str, n: int) -> list[Any]:
    from qa.types import Document, Meta

    if source == "squad":
        from qa.eval.squad import read_squad

        docs = read_squad(shared_data(SHARED_DATA / "squad2-dev-public.json")).documents
        if n > len(docs):
            raise SystemExit(f"--sizes: the SQuAD file has only {len(docs)} paragraphs")
        return docs[:n]
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    out = []
    for i in range(n):
        path = seeds[i % len(seeds)]
        text = path.read_text(encoding="utf-8")
        out.append(Document(id=f"{path.stem}-{i // len(seeds)}", text=text,
                            meta=Meta(text.split("\n", 1)[0][:200])))
    return out


def one(source: str, n: int) -> dict[str, Any]:
    """Runs in a child process: build an index of ``n`` articles and report."""
    from qa.service import QAService
    from qa.settings import Settings
    from qa.text.sentences import sentence_spans

    docs = corpus(source, n)
    tmp = Path(tempfile.mkdtemp(prefix="bench-index-"))
    try:
        svc = QAService(Settings(index_dir=tmp / "index"))
        t = time.perf_counter()
        svc.embedder.warm_up()
        sentence_spans("Models load once. This warms the sentence splitter.")
        load_s = time.perf_counter() - t
        t, t_cpu = time.perf_counter(), time.process_time()
        report = svc.add_documents(docs)
        seconds = time.perf_counter() - t
        cpu_seconds = time.process_time() - t_cpu
        svc.close()
        size = sum(f.stat().st_size for f in (tmp / "index").rglob("*") if f.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "source": source, "articles": n, "chunks": report.chunks,
        "characters": sum(len(d.text) for d in docs),
        "seconds": round(seconds, 2), "model_load_s": round(load_s, 2),
        "chunks_per_s": round(report.chunks / seconds, 1),
        # CPU time of all the process's threads: on a shared machine, what the build costs
        "cpu_seconds": round(cpu_seconds, 2),
        "chunks_per_cpu_s": round(report.chunks / cpu_seconds, 1),
        "articles_per_s": round(n / seconds, 2),
        "index_mb": round(size / 2**20, 2), "peak_rss_mb": peak_rss_mb(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[25, 100])
    ap.add_argument("--source", choices=["seeds", "squad"], default="seeds")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child mode
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.source, args.one)))
        return 0
    runs = []
    for n in args.sizes:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--source", args.source],
            capture_output=True, text=True, cwd=ROOT,
        )
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(table(
        ["source", "articles", "chunks", "seconds", "chunks/s", "CPU s", "chunks/CPU s",
         "articles/s", "index MB", "peak RSS MB"],
        [[r["source"], r["articles"], r["chunks"], r["seconds"], r["chunks_per_s"],
          r["cpu_seconds"], r["chunks_per_cpu_s"], r["articles_per_s"], r["index_mb"],
          r["peak_rss_mb"]] for r in runs],
    ))
    print(f"(model load, not counted: {runs[0]['model_load_s']} s)")
    path = write_result(f"index-{args.source}", {"runs": runs})
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
