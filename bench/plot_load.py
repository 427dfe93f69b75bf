"""Memory over time of ``bench/load.py`` runs: the RSS of the master and of each worker at every
sample, one panel per run (e.g. the hour on FAISS beside the hour on pgvector), with the
post-warm-up band of +/-10 % around each worker's first sample after the warm-up.

    python bench/plot_load.py bench/results/load-3600s.json bench/results/load-pgvector-3600s.json

Writes bench/results/load-rss.png (``--out``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from common import RESULTS


def plot(runs: list[dict[str, Any]], out: Path) -> Path:
    # the object API, not pyplot: no display or global figure state needed
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0 * len(runs), 4.0))
    axes = fig.subplots(1, len(runs), squeeze=False, sharey=True)[0]
    for ax, run in zip(axes, runs, strict=True):
        samples = run["rss_mb_samples"]
        minutes = [s["t"] / 60 for s in samples]
        procs = [p for p in samples[0]["rss_mb"] if not p.startswith("other")]
        for proc in procs:
            values = [s["rss_mb"].get(proc) for s in samples]
            (line,) = ax.plot(minutes, values, marker=".", label=proc)
            base = run.get("rss_after_warm_up", {}).get(proc, {}).get("base_mb")
            if base and proc.startswith("worker"):
                ax.axhspan(base * 0.9, base * 1.1, color=line.get_color(), alpha=0.08)
        ax.axvline(run["warm_up_s"] / 60, color="grey", linestyle=":", linewidth=1)
        lat = run["latency_ms"]
        ax.set_title(
            f"{run.get('store') or 'faiss'}: {run['rate_rps']:g} asks/s for "
            f"{run['duration_s'] / 60:g} min, {run['errors']} errors, p50 {lat['p50']} ms",
            fontsize=9,
        )
        ax.set_xlabel("minutes")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("RSS (MB)")
    fig.suptitle("qa serve --workers 2: resident memory per process (band: worker +/-10 %)")
    fig.savefig(out, dpi=100, bbox_inches="tight")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="bench/load.py results files")
    parser.add_argument("--out", type=Path, default=RESULTS / "load-rss.png")
    args = parser.parse_args()
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in args.results]
    print(f"wrote {plot(runs, args.out)}")


if __name__ == "__main__":
    main()
