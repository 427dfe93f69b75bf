"""Soak test of ``POST /api/ask`` at a fixed rate: throughput, p50/p99, errors and the memory of
every server process over a set time.

Starts ``qa serve`` on loopback (on ``--index-dir``, built from the seeds when it does not exist;
a temporary one by default), on the FAISS store or (``--store pgvector``) on a PostgreSQL of its
own (the test helper's, durable), or drives ``--url``. The load generator runs in a separate process
and is open-loop: request ``i`` is due at ``start + i / rate`` whatever happened to the earlier
ones, so a slow server shows up as latency and errors, not as a politely lower request rate
(latency is counted from when a request was due). The resident memory (RSS) of the master and
each worker is sampled every ``--sample`` seconds; "flat memory" means that past the first
``--warm-up`` seconds every sample of a worker stays within 10 % of its first one after them
(``rss_after_warm_up`` in the results).

    python bench/load.py --rate 2 --duration 600          # the 10-minute soak
    python bench/load.py --rate 2 --duration 60           # a quick check
    python bench/load.py --store pgvector --rate 1 --duration 3600 --sample 60   # an hour
    python bench/plot_load.py bench/results/load-*.json   # memory over time, as a PNG

Writes bench/results/load-<duration>s.json (load-pgvector-<duration>s.json on pgvector) and
prints a summary.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import ROOT, Server, _descendants, table, write_result

sys.path.insert(0, str(ROOT / "tests"))  # the test helper's PostgreSQL (--store pgvector)

SEEDS_DEV = ROOT / "tests" / "data" / "seeds_dev.jsonl"


def questions(limit: int = 60) -> list[str]:
    lines = SEEDS_DEV.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()][:limit]


# -- the load generator (its own process) --------------------------------------------------------


def generate(url: str, rate: float, duration: float, qs: list[str], timeout: float) -> dict:
    """Send ``rate`` asks a second for ``duration`` seconds; per request: due time, latency and
    outcome. Runs in a child process so the client's CPU is not the server's interpreter's."""
    parsed = urllib.parse.urlsplit(url)
    local = threading.local()
    records: list[tuple[float, float, str]] = []
    lock = threading.Lock()

    def connection() -> http.client.HTTPConnection:
        if getattr(local, "conn", None) is None:
            local.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
        conn: http.client.HTTPConnection = local.conn
        return conn

    def post(body: str) -> tuple[int, bytes]:
        """One POST on this thread's kept-alive connection. A connection the server closed while
        it sat idle (past gunicorn's keep-alive) fails on reuse before the request reaches the
        server; like any HTTP client, send it once more on a fresh connection."""
        for attempt in (1, 2):
            conn = connection()
            try:
                conn.request("POST", "/api/ask", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                return response.status, response.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                conn.close()
                local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def ask(i: int, due: float) -> None:
        body = json.dumps({"question": qs[i % len(qs)]})
        outcome = "ok"
        try:
            status, data = post(body)
            if status != 200:
                outcome = f"http {status}"
            elif "passages" not in json.loads(data):
                outcome = "bad body"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            outcome = type(exc).__name__
            local.conn = None
        latency = time.monotonic() - due
        with lock:
            records.append((due, latency, outcome))

    # enough threads that a slow answer never delays the next request's start
    pool = ThreadPoolExecutor(max_workers=max(8, int(rate * timeout) + 1))
    start = time.monotonic() + 0.5
    i = 0
    while True:
        due = start + i / rate
        if due >= start + duration:
            break
        time.sleep(max(0.0, due - time.monotonic()))
        pool.submit(ask, i, due)
        i += 1
    pool.shutdown(wait=True)
    return {"start": start, "records": records}


def _generate(conn: Any, *args: Any) -> None:
    conn.send(generate(*args))
    conn.close()


# -- server memory -------------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def server_rss(master: int) -> dict[str, float | None]:
    """RSS of the master and each worker, keyed ``master`` / ``worker <pid>``; other processes
    the master started (multiprocessing's resource tracker, left by the index build) are
    ``other <pid>``."""
    out: dict[str, float | None] = {"master": rss_mb(master)}
    for pid in _descendants(master):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        kind = "other" if b"multiprocessing" in command else "worker"
        out[f"{kind} {pid}"] = rss_mb(pid)
    return out


def after_warm_up(samples: list[dict[str, Any]], warm_up: float) -> dict[str, Any]:
    """Per process: RSS at the first sample past ``warm_up`` seconds, at the end, the largest
    change from it (percent) and whether every later sample stays within 10 % of it."""
    later = [s for s in samples if s["t"] >= warm_up]
    if not later:
        return {}
    out: dict[str, Any] = {}
    for proc, base in later[0]["rss_mb"].items():
        values = [s["rss_mb"].get(proc) for s in later]
        if not base or None in values:
            out[proc] = {"base_mb": base, "note": "not in every sample (restarted or gone)"}
            continue
        change = max(abs(v - base) / base * 100 for v in values)
        out[proc] = {
            "base_mb": base,
            "base_at_s": later[0]["t"],
            "end_mb": values[-1],
            "max_mb": max(values),
            "max_change_pct": round(change, 1),
            "within_10pct": change <= 10.0,
        }
    return out


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summarize(
    records: list[tuple[float, float, str]], start: float, duration: float
) -> dict[str, Any]:
    ok = [lat for _, lat, outcome in records if outcome == "ok"]
    errors: dict[str, int] = {}
    for _, _, outcome in records:
        if outcome != "ok":
            errors[outcome] = errors.get(outcome, 0) + 1
    finished = max((due + lat for due, lat, _ in records), default=start) - start
    return {
        "requests": len(records),
        "ok": len(ok),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "throughput_rps": round(len(ok) / max(finished, duration), 3),
        "latency_ms": {
            "p50": _ms(percentile(ok, 50)),
            "p90": _ms(percentile(ok, 90)),
            "p99": _ms(percentile(ok, 99)),
            "max": _ms(max(ok, default=None)),
            "mean": _ms(statistics.fmean(ok) if ok else None),
        },
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=2.0, help="asks per second (default 2)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--index-dir", type=Path, help="default: a temporary seeds index")
    parser.add_argument("--url", help="drive a running server instead of starting one")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--name", help="results file name (default load[-STORE]-<duration>s)")
    parser.add_argument("--store", choices=("faiss", "pgvector"), default="faiss")
    parser.add_argument(
        "--warm-up", type=float, default=300.0,
        help="seconds after which memory should stay flat (default 300)",
    )
    parser.add_argument(
        "--boot-timeout", type=float, default=900.0, help="seconds for qa serve to get ready"
    )
    args = parser.parse_args()
    if args.rate <= 0 or args.duration <= 0:
        raise SystemExit("--rate and --duration must be positive")

    qs = questions()
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp, contextlib.ExitStack() as stack:
        server: Server | None = None
        if args.url:
            url, master = args.url.rstrip("/"), None
        else:
            index_dir = args.index_dir or Path(tmp) / "index"
            env = {"QA_CORPUS": str(ROOT / "seeds")}
            if args.store == "pgvector":
                from store.pgserver import LocalPostgres

                pg = stack.enter_context(LocalPostgres(durable=True))
                env |= {"QA_STORE": "pgvector", "QA_DATABASE_URL": pg.url}
            print(
                f"starting qa serve --workers {args.workers} on {args.store} ({index_dir}) ...",
                flush=True,
            )
            server = Server(index_dir, args.workers, env=env, boot_timeout=args.boot_timeout)
            url, master = server.url, server.proc.pid
        try:
            result = run(url, master, qs, args)
        finally:
            if server is not None:
                server.stop()
    store = "" if args.store == "faiss" else f"-{args.store}"
    name = args.name or f"load{store}-{args.duration:g}s"
    path = write_result(name, result)
    print_summary(result)
    print(f"wrote {path.relative_to(ROOT)}")


def run(url: str, master: int | None, qs: list[str], args: argparse.Namespace) -> dict[str, Any]:
    # warm every worker (a fresh one answers its first question slowly), then measure
    for q in qs[: 2 * args.workers]:
        generate(url, 50.0, 0.02, [q], args.timeout)
    samples: list[dict[str, Any]] = []
    started = time.monotonic()

    def sample() -> None:
        if master is not None:
            elapsed = round(time.monotonic() - started, 1)
            samples.append({"t": elapsed, "rss_mb": server_rss(master)})

    sample()
    parent, child = multiprocessing.get_context("spawn").Pipe()
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(
        target=_generate, args=(child, url, args.rate, args.duration, qs, args.timeout)
    )
    proc.start()
    while not parent.poll(args.sample):
        sample()
    generated = parent.recv()
    proc.join()
    sample()
    summary = summarize(generated["records"], generated["start"], args.duration)
    rss_start = samples[0]["rss_mb"] if samples else {}
    rss_end = samples[-1]["rss_mb"] if samples else {}
    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "url": url,
        "rate_rps": args.rate,
        "duration_s": args.duration,
        "workers": args.workers if master is not None else None,
        "store": args.store if master is not None else None,
        **summary,
        "rss_mb_start": rss_start,
        "rss_mb_end": rss_end,
        "warm_up_s": args.warm_up,
        "rss_after_warm_up": after_warm_up(samples, args.warm_up),
        "rss_mb_samples": samples,
    }


def print_summary(result: dict[str, Any]) -> None:
    lat = result["latency_ms"]
    print(
        table(
            ["rate", "seconds", "requests", "ok", "errors", "req/s", "p50 ms", "p99 ms", "max ms"],
            [[result["rate_rps"], result["duration_s"], result["requests"], result["ok"],
              result["errors"], result["throughput_rps"], lat["p50"], lat["p99"], lat["max"]]],
        )
    )
    if result["errors_by_kind"]:
        print("errors:", result["errors_by_kind"])
    start, end = result["rss_mb_start"], result["rss_mb_end"]
    flat = result["rss_after_warm_up"]
    rows = [
        [proc, start.get(proc), flat.get(proc, {}).get("base_mb"), end.get(proc),
         flat.get(proc, {}).get("max_change_pct")]
        for proc in start
    ]
    if rows:
        print(
            table(
                ["process", "RSS start MB", f"after {result['warm_up_s']:g} s", "RSS end MB",
                 "max change %"],
                rows,
            )
        )


if __name__ == "__main__":
    main()
