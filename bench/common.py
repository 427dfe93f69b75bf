"""Helpers shared by the benchmark scripts (run as ``python bench/NAME.py``, which puts this folder
on ``sys.path``): memory, tables, results files and a ``qa serve`` process to measure."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's qa, also when the package is not installed

from qa.web.process import ServeProcess  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_data(path: Path) -> Path:
    """``path`` when it exists; otherwise stop with a message saying where the data should be.
    Benchmarks (unlike the tests) read the shared data set that lives beside the repository."""
    if not path.exists():
        raise SystemExit(
            f"missing data: {path}\nThis benchmark reads the shared data set, expected in "
            f"{SHARED_DATA} (../shared/data beside the repository); put it there or pass the path."
        )
    return path
#: the machine's load before this benchmark added its own
START_LOAD = round(os.getloadavg()[0], 2)


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def tree_peak_rss_mb(pid: int) -> float:
    """Sum of the peak resident memory (VmHWM) of a process and its descendants: what a server
    with worker processes needed at most (an upper bound, peaks need not coincide)."""
    return round(sum(process_peaks_mb(pid)), 1)


def process_peaks_mb(pid: int) -> list[float]:
    """Peak resident memory of a process, then of each descendant."""
    peaks = []
    for p in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(round(int(line.split()[1]) / 1024, 1))
        except OSError:
            continue
    return peaks


def process_pss_mb(pid: int) -> list[float]:
    """Proportional set size now of a process, then of each descendant: pages shared between
    processes (libraries, memory a forked worker still shares with its master) are split between
    them, so the sum is what the processes together cost the machine."""
    out = []
    for p in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    out.append(round(int(line.split()[1]) / 1024, 1))
        except OSError:
            continue
    return out


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = list(Path(f"/proc/{p}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                kids = [int(x) for x in (task / "children").read_text().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.rjust(w) if _numeric(c) else c.ljust(w)
                              for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    return "\n".join([line, rule, *body])


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _numeric(s: str) -> bool:
    return s.replace(".", "", 1).replace("x", "", 1).replace("-", "", 1).isdigit()


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        # the CPU is shared: a load above the core count before the run means these numbers are
        # pessimistic (at the end the benchmark's own load is in it)
        "load_average_1m_at_start": START_LOAD,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        info["commit"] = commit or None
    except OSError:
        info["commit"] = None
    return info


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"benchmark": name, "machine": machine(), **payload}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


class Server(ServeProcess):
    """``qa serve`` on the given index with its output discarded, started and ready: healthy, and
    every worker has loaded its models (a fresh worker answers its first question slowly)."""

    def __init__(self, index_dir: Path, workers: int, threads: int | None = None,
                 env: dict[str, str] | None = None, boot_timeout: float = 300) -> None:
        super().__init__(index_dir=index_dir, workers=workers, threads=threads, env=env, cwd=ROOT)
        self.wait_until_healthy(boot_timeout,
                                ready=lambda: len(_descendants(self.proc.pid)) >= workers)
