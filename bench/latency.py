"""Latency of ``ask``: per stage in-process, then over HTTP against ``qa serve`` at concurrency
1, 4 and 16 (questions/s and client-side p50/p99), with peak memory of each.

    python bench/latency.py                     # seeds index, seeds_dev questions
    python bench/latency.py --repeat 5 --requests 96 --workers 2

Writes bench/results/latency.json. Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import (
    ROOT,
    SHARED_DATA,
    Server,
    peak_rss_mb,
    process_peaks_mb,
    table,
    tree_peak_rss_mb,
    write_result,
)

from qa.eval.metrics import percentiles
from qa.service import QAService
from qa.settings import SHIPPED_READER, Settings

#: asked before timing, so the first timed question pays no lazy set-up; in no question set
WARM_UP_QUESTION = "Which committee approved the new budget last spring?"


def questions_from(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return list(dict.fromkeys(json.loads(line)["question"] for line in f if line.strip()))


def unique_pool(first: list[str], extra: Path | None) -> list[str]:
    """Questions never asked twice over HTTP: ``first`` (the seeds questions), then the SQuAD
    dev questions. Most of those are not about the seeds, but every one still goes through
    retrieval and the reader (that is what is timed), and none hits a cache."""
    pool = list(dict.fromkeys(first))
    if extra is not None and extra.exists():
        data = json.loads(extra.read_text(encoding="utf-8"))
        pool += [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
    return list(dict.fromkeys(q.strip() for q in pool if q.strip()))


def _ask_pass(svc: QAService, questions: list[str]) -> tuple[list[float], dict[str, list[float]]]:
    walls: list[float] = []
    stages: dict[str, list[float]] = {}
    for q in questions:
        t = time.perf_counter()
        result = svc.ask(q)
        walls.append((time.perf_counter() - t) * 1000)
        for k, v in result.timings_ms.items():
            stages.setdefault(k, []).append(v)
    return walls, stages


def _summary(walls: list[float], stages: dict[str, list[float]]) -> dict[str, Any] | None:
    if not walls:
        return None
    return {
        "questions": len(walls),
        "wall_ms": percentiles(walls),
        "stages_ms": {k: percentiles(v) for k, v in stages.items()},
        "questions_per_s": round(len(walls) / (sum(walls) / 1000), 2),
    }


def in_process(index_dir: Path, questions: list[str], repeat: int) -> dict[str, Any]:
    """``cold``: each question's first ask in this process (nothing cached for it); ``warm``:
    the ``repeat - 1`` passes after it, which may hit per-question caches (its vector)."""
    # QA_* settings apply (QA_READER_MODEL=DIR times another reader)
    svc = QAService(Settings.from_env(index_dir=index_dir, corpus=[ROOT / "seeds"]))
    started = time.perf_counter()
    svc.warm_up()
    warm_s = time.perf_counter() - started
    svc.ask(WARM_UP_QUESTION)  # first call pays lazy initialisation the warm-up may leave
    cold = _ask_pass(svc, questions)
    warm_walls: list[float] = []
    warm_stages: dict[str, list[float]] = {}
    for _ in range(repeat - 1):
        walls, stages = _ask_pass(svc, questions)
        warm_walls += walls
        for k, v in stages.items():
            warm_stages.setdefault(k, []).extend(v)
    svc.close()
    return {
        "reader": svc.settings.reader_path,
        "warm_up_s": round(warm_s, 2),
        "cold": _summary(*cold),
        "warm": _summary(warm_walls, warm_stages),
        "peak_rss_mb": peak_rss_mb(),
    }


def _ask(url: str, question: str) -> float:
    body = json.dumps({"question": question}).encode()
    req = urllib.request.Request(url + "/api/ask", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=300) as r:
        r.read()
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}")
    return (time.perf_counter() - t) * 1000


def over_http(index_dir: Path, questions: list[str], requests: int, levels: list[int],
              workers: int) -> dict[str, Any]:
    """Every request asks a question not asked before in this run (while ``questions`` last;
    the number repeated, if any, is reported)."""
    out: dict[str, Any] = {"workers": workers, "levels": [], "repeated_questions": 0}
    fresh = iter(questions)
    with Server(index_dir, workers) as server:
        for i in range(workers * 2):  # every worker answers once before timing
            _ask(server.url, f"{WARM_UP_QUESTION} ({i})")
        for c in levels:
            batch = [next(fresh, None) for _ in range(requests)]
            out["repeated_questions"] += sum(q is None for q in batch)
            batch = [q or questions[i % len(questions)] for i, q in enumerate(batch)]
            started = time.perf_counter()
            with ThreadPoolExecutor(c) as pool:
                lat = list(pool.map(lambda q: _ask(server.url, q), batch))
            wall = time.perf_counter() - started
            out["levels"].append({
                "concurrency": c, "requests": requests,
                "questions_per_s": round(requests / wall, 2),
                "latency_ms": percentiles(lat),
            })
        out["server_peak_rss_mb"] = tree_peak_rss_mb(server.proc.pid)
        out["server_peak_rss_mb_per_process"] = process_peaks_mb(server.proc.pid)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, default=ROOT / "tests" / "data" / "seeds_dev.jsonl")
    ap.add_argument("--repeat", type=int, default=1,
                    help="in-process passes over the questions: the first is reported as cold, "
                    "the others as warm (default 1: cold only)")
    ap.add_argument("--http-questions", type=Path, default=SHARED_DATA / "squad2-dev-public.json",
                    help="SQuAD JSON whose questions follow the seeds ones over HTTP, so that no "
                    "request repeats a question")
    ap.add_argument("--requests", type=int, default=64, help="HTTP requests per level")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--workers", type=int, default=2, help="qa serve worker processes")
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args()

    questions = questions_from(args.questions)
    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    try:
        index_dir = tmp / "index"
        builder = QAService(Settings.from_env(index_dir=index_dir, corpus=[ROOT / "seeds"]))
        builder.index()
        builder.close()
        local = in_process(index_dir, questions, args.repeat)
        http = None if args.skip_http else over_http(
            index_dir, unique_pool(questions, args.http_questions), args.requests,
            args.concurrency, args.workers)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    for name in ("cold", "warm"):
        part = local[name]
        if part is None:
            continue
        print(f"in-process ask, {name}: {part['questions']} questions (seeds index), "
              f"{part['questions_per_s']} q/s sequential, peak RSS {local['peak_rss_mb']} MB")
        rows = [[stage, v["p50"], v["p99"], v["mean"]] for stage, v in part["stages_ms"].items()]
        rows.append(["wall (ask call)", part["wall_ms"]["p50"], part["wall_ms"]["p99"],
                     part["wall_ms"]["mean"]])
        print(table(["stage", "p50 ms", "p99 ms", "mean ms"], rows) + "\n")
    if http:
        peaks = " + ".join(map(str, http["server_peak_rss_mb_per_process"]))
        print(f"HTTP POST /api/ask, qa serve --workers {http['workers']}, "
              f"server peak RSS {http['server_peak_rss_mb']} MB (master + workers: {peaks})")
        print(table(["concurrency", "questions/s", "p50 ms", "p99 ms"],
                    [[lv["concurrency"], lv["questions_per_s"], lv["latency_ms"]["p50"],
                      lv["latency_ms"]["p99"]] for lv in http["levels"]]))
    # another reader's figures go beside the shipped one's, not over them
    name = "latency" if local["reader"] == str(SHIPPED_READER) else "latency-other-reader"
    path = write_result(name, {"questions_file": str(args.questions),
                             "in_process": local, "http": http})
    print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
