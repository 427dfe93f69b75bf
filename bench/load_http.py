"""Load test of ``POST /api/search`` and ``POST /api/ask``: requests/s and p50/p99 latency under
``qa serve``, and the server's memory.

Starts ``qa serve --workers 2`` on the seeds (its own index in a temporary folder unless
``--index-dir`` is given), then drives it from a separate process: ``wrk`` (Debian package
``wrk``) with a Lua script that walks through a list of questions, or, without wrk, a small Python
client made of one process per connection. Each (endpoint, concurrency) level gets its own slice
of the questions (the seeds ones, then SQuAD dev questions when the shared data is there), so no
question is asked twice while they last; ``repeats`` says how many requests went past the slice.
Memory: each server process's peak RSS (VmHWM) and, after the load, its PSS (shared pages split
between the processes that share them: the sum of PSS is what the server costs the machine; the
sum of peak RSS counts every shared page once per process). Prints a table and writes JSON to
bench/results/.

    python bench/load_http.py                          # search and ask, concurrency 1, 4, 16
    python bench/load_http.py --endpoints search --concurrency 4 --duration 10
    python bench/load_http.py --concurrency 8 --duration 30 --client python

The load generator shares the machine's cores with the server, so figures are a floor on what
the server does on dedicated cores; they are comparable between runs on the same machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's qa, also when the package is not installed

from qa.web.process import ServeError, ServeProcess  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SEEDS_DEV = ROOT / "tests" / "data" / "seeds_dev.jsonl"
SQUAD_DEV = ROOT.parent / "shared" / "data" / "squad2-dev-public.json"
FALLBACK_QUESTIONS = [
    "Who is the chairman of the Tskhinvali parliament?",
    "Who became the 3rd President of South Ossetia in 2012?",
    "Which news agency reported that Putin signed the alliance agreement?",
    "What is the GDP of South Ossetia?",
]


def questions() -> list[str]:
    """Unique questions: the seeds ones first, then SQuAD dev's when the shared data is there."""
    found = list(FALLBACK_QUESTIONS)
    if SEEDS_DEV.exists():
        lines = SEEDS_DEV.read_text(encoding="utf-8").splitlines()
        found = [json.loads(line)["question"] for line in lines if line.strip()]
    if SQUAD_DEV.exists():
        data = json.loads(SQUAD_DEV.read_text(encoding="utf-8"))
        found += [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
    return list(dict.fromkeys(q.strip() for q in found if q.strip()))


# -- wrk -----------------------------------------------------------------------------------------

LUA = r"""
local targets = {%(targets)s}
local bodies = {%(bodies)s}
local n = 0
request = function()
  n = n %% #targets + 1
  if bodies[n] == "" then
    return wrk.format("GET", targets[n])
  end
  return wrk.format("POST", targets[n], {["Content-Type"] = "application/json"}, bodies[n])
end
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_s": %%.3f, "non_2xx": %%d, "socket_errors": %%d, ' ..
    '"p50_ms": %%.2f, "p90_ms": %%.2f, "p99_ms": %%.2f, "mean_ms": %%.2f, "max_ms": %%.2f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.mean / 1000, latency.max / 1000))
end
"""


#: endpoint name -> (method, path)
ENDPOINTS = {"search": ("GET", "/api/search"), "ask": ("POST", "/api/ask")}


def _request(endpoint: str, question: str) -> tuple[str, str, str]:
    """``(method, target, body)`` asking ``question`` of ``endpoint``."""
    method, path = ENDPOINTS[endpoint]
    if method == "GET":
        return method, f"{path}?{urllib.parse.urlencode({'q': question})}", ""
    return method, path, json.dumps({"question": question})


def run_wrk(
    url: str, endpoint: str, qs: list[str], concurrency: int, duration: int, tmp: Path
) -> dict:
    reqs = [_request(endpoint, q) for q in qs]
    targets = ", ".join("[==[" + t + "]==]" for _, t, _ in reqs)
    bodies = ", ".join("[==[" + b + "]==]" for _, _, b in reqs)
    script = tmp / "load.lua"
    script.write_text(LUA % {"targets": targets, "bodies": bodies})
    cmd = [
        "wrk",
        f"-t{min(concurrency, 2)}",
        f"-c{concurrency}",
        f"-d{duration}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        f"{url}{ENDPOINTS[endpoint][1]}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^WRKJSON (\{.*\})$", out, re.M)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    stats: dict[str, Any] = json.loads(match.group(1))
    stats["rps"] = stats["requests"] / stats["duration_s"]
    return stats


# -- python client -------------------------------------------------------------------------------


def _client(
    host: str, port: int, endpoint: str, qs: list[str], until: float, out: Any
) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    latencies, non_2xx, errors, i = [], 0, 0, 0
    while time.time() < until:
        method, target, body = _request(endpoint, qs[i % len(qs)])
        i += 1
        started = time.perf_counter()
        try:
            headers = {"Content-Type": "application/json"} if body else {}
            conn.request(method, target, body or None, headers)
            response = conn.getresponse()
            response.read()
        except OSError:
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        non_2xx += not 200 <= response.status < 300
    conn.close()
    out.put((latencies, non_2xx, errors))


def run_python(
    url: str, endpoint: str, qs: list[str], concurrency: int, duration: int, _tmp: Path
) -> dict:
    host, port = url.removeprefix("http://").split(":")
    queue: Any = multiprocessing.get_context("spawn").Queue()
    started = time.time()
    until = started + duration
    ctx = multiprocessing.get_context("spawn")
    # each connection its own share of the questions, so no two ask the same one
    procs = [
        ctx.Process(
            target=_client, args=(host, int(port), endpoint, qs[k::concurrency], until, queue)
        )
        for k in range(concurrency)
    ]
    for p in procs:
        p.start()
    parts = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.time() - started
    latencies = sorted(x for part in parts for x in part[0])
    if not latencies:
        raise RuntimeError("no request succeeded")

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q / 100 * len(latencies)))]

    return {
        "requests": len(latencies),
        "duration_s": round(elapsed, 3),
        "non_2xx": sum(part[1] for part in parts),
        "socket_errors": sum(part[2] for part in parts),
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "mean_ms": statistics.fmean(latencies),
        "max_ms": latencies[-1],
        "rps": len(latencies) / elapsed,
    }


# -- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", default="1,4,16", help="connections, comma-separated")
    parser.add_argument("--duration", type=int, default=20, help="seconds per concurrency level")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, help="questions answered at once per worker")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--index-dir", type=Path, help="existing index (default: a fresh one)")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/...)")
    parser.add_argument("--endpoints", nargs="+", choices=list(ENDPOINTS),
                        default=list(ENDPOINTS))
    parser.add_argument("--slice", type=int, default=2000,
                        help="questions per (endpoint, concurrency) level")
    args = parser.parse_args()

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    run = run_wrk if client == "wrk" else run_python
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    qs = questions()
    warm_up = [f"{q} (warm-up)" for q in qs[:8]]

    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp_name:
        tmp = Path(tmp_name)
        index_dir = args.index_dir or tmp / "index"
        log = tmp / "serve.log"
        started = time.monotonic()
        env = {"QA_INDEX_DIR": str(index_dir), "QA_CORPUS": str(ROOT / "seeds")}
        with ServeProcess(
            workers=args.workers, threads=args.threads, env=env, cwd=ROOT, log_path=log
        ) as server:
            try:
                health = server.wait_until_healthy(timeout=300)
            except ServeError as exc:
                sys.exit(str(exc))
            startup_s = time.monotonic() - started
            url = server.url
            for q in warm_up:  # every worker loads lazily-built structures before timing
                for endpoint in args.endpoints:
                    method, target, body = _request(endpoint, q)
                    req = urllib.request.Request(
                        f"{url}{target}", data=body.encode() or None, method=method,
                        headers={"Content-Type": "application/json"},
                    )
                    urllib.request.urlopen(req, timeout=60).read()
            rows = []
            offset = 0
            for endpoint in args.endpoints:
                for c in levels:
                    part = qs[offset : offset + args.slice]
                    offset += args.slice
                    stats = run(url, endpoint, part, c, args.duration, tmp)
                    stats["repeats"] = max(0, stats["requests"] - len(part))
                    rows.append({"endpoint": endpoint, "concurrency": c}
                                | {k: _round(v) for k, v in stats.items()})
                    print(f"  {endpoint} c={c}: {stats['rps']:.1f} req/s", file=sys.stderr)
            memory = server_memory(server.proc.pid)

    report = {
        "client": client,
        "workers": args.workers,
        "threads": args.threads,
        "duration_s_per_level": args.duration,
        "questions": len(qs),
        "reader": health.get("reader"),
        "documents": health.get("documents"),
        "chunks": health.get("chunks"),
        "server_startup_s": round(startup_s, 1),
        "memory_mb": memory,
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "results": rows,
    }
    print(
        f"\nqa serve --workers {args.workers} on the seeds, client {client}, "
        f"reader {report['reader']}, {report['cpus']} CPUs shared with the client\n"
    )
    print(f"{'endpoint':>8} {'conc':>5} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
          f"{'errors':>7} {'repeats':>7}")
    for r in rows:
        print(
            f"{r['endpoint']:>8} {r['concurrency']:>5} {r['rps']:>8.1f} {r['p50_ms']:>8.1f} "
            f"{r['p90_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['non_2xx'] + r['socket_errors']:>7} "
            f"{r['repeats']:>7}"
        )
    print(f"\nmemory: peak RSS {memory['peak_rss_total']} MB "
          f"({' + '.join(map(str, memory['peak_rss']))}), PSS after the load "
          f"{memory['pss_total']} MB ({' + '.join(map(str, memory['pss']))}), master first")
    out = args.out or RESULTS / f"load_http-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


def server_memory(pid: int) -> dict[str, Any]:
    """Peak RSS and current PSS (MB) of the server and its workers, master first."""
    from common import process_peaks_mb, process_pss_mb

    peaks, pss = process_peaks_mb(pid), process_pss_mb(pid)
    return {"peak_rss": peaks, "peak_rss_total": round(sum(peaks), 1),
            "pss": pss, "pss_total": round(sum(pss), 1)}


def _round(v: Any) -> Any:
    return round(v, 2) if isinstance(v, float) else v


if __name__ == "__main__":
    sys.exit(main())
