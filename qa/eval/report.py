"""What an evaluation leaves behind: a one-screen text summary, ``summary.json`` and
``predictions.jsonl``, and a self-contained ``report.html`` (plots embedded as PNG) that can be
mailed or attached to an issue."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

from qa.eval.metrics import QUESTION_TYPES
from qa.eval.runner import Evaluation, Prediction

WORST = 20

# -- text ------------------------------------------------------------------------------------------


def _num(value: Any, digits: int = 2, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}{suffix}"


def summary_text(ev: Evaluation) -> str:
    s = ev.summary
    c = s["counts"]
    head = f"qa eval {s['data']}  [{s['format']}, {s['mode']}, {s['target']}]"
    lines = [head, "-" * min(len(head), 100)]
    who = f"reader {s.get('reader')}" if s["mode"] != "retrieval" else "retrieval only"
    count = f"{c['questions']} questions"
    if c.get("answerable") is not None:
        count += f" ({c['answerable']} answerable, {c['unanswerable']} unanswerable)"
    if s.get("limit"):
        count += f", sample of {s['limit']} (seed {s['seed']})"
    lines.append(f"{who}; {count}")
    rows: list[tuple[str, str]] = []
    if s.get("f1") is not None:
        rows.append(("exact match / F1", f"{_num(s['exact_match'])} / {_num(s['f1'])} %"))
        if s.get("has_answer_f1") is not None and c.get("unanswerable"):
            rows.append(
                (
                    "has-answer EM / F1",
                    f"{_num(s['has_answer_exact'])} / {_num(s['has_answer_f1'])} %",
                )
            )
        if s.get("no_answer_accuracy") is not None:
            rows.append(("no-answer accuracy", f"{_num(s['no_answer_accuracy'])} %"))
        rows.append(
            ("answered", f"{_num(s['answered_rate'])} % at threshold {_num(s.get('threshold'), 3)}")
        )
        if s.get("best_threshold_f1") is not None:
            best = s["best_threshold"]
            where = "abstain on all" if best is None else f"threshold {best:.3f}"
            rows.append(
                (
                    "best threshold",
                    f"F1 {_num(s['best_threshold_f1'])} % "
                    f"(EM {_num(s['best_threshold_exact'])} %) at {where}",
                )
            )
    if s.get("recall@5") is not None:
        rows.append(
            (
                "recall@1 / @5 / @20",
                " / ".join(_num(s[k], 3) for k in ("recall@1", "recall@5", "recall@20")),
            )
        )
        rows.append(("MRR@10", _num(s["mrr@10"], 3)))
    if s.get("ndcg@10") is not None:
        rows.append(
            ("nDCG@10 / recall@100", f"{_num(s['ndcg@10'], 3)} / {_num(s['recall@100'], 3)}")
        )
    if s.get("ece") is not None:
        rows.append(("calibration ECE", _num(s["ece"], 3)))
    if s.get("gold_doc_first_of"):
        rows.append(("gold doc cited first", f"{s['gold_doc_first']} / {s['gold_doc_first_of']}"))
    lat = s.get("latency_ms") or {}
    if lat.get("p50") is not None:
        rows.append(
            ("latency ms p50/95/99", " / ".join(_num(lat[k], 1) for k in ("p50", "p95", "p99")))
        )
        stages = s.get("latency_ms_by_stage") or {}
        parts = [f"{k} {_num(v['p50'], 1)}" for k, v in stages.items() if k != "total"]
        if parts:
            rows.append(("  p50 by stage", ", ".join(parts)))
    by_type = s.get("f1_by_question_type") or {}
    if by_type:
        rows.append(
            (
                "F1 by question type",
                "  ".join(f"{t} {v['f1']:.0f} ({v['count']})" for t, v in by_type.items()),
            )
        )
    rows.append(
        (
            "time",
            f"{_num(s.get('seconds'), 1)} s (index set-up "
            f"{_num(s.get('index_seconds'), 1)} s of it)",
        )
    )
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k.ljust(width)}  {v}" for k, v in rows]
    return "\n".join(lines)


# -- files -----------------------------------------------------------------------------------------


def write_report(ev: Evaluation, directory: str | Path) -> dict[str, Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": directory / "summary.json",
        "predictions": directory / "predictions.jsonl",
        "html": directory / "report.html",
    }
    payload = {
        "summary": ev.summary,
        "calibration_bins": _finite(ev.calibration_bins),
        "recall_curve": ev.hit_curve,
    }
    paths["summary"].write_text(
        json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    with paths["predictions"].open("w", encoding="utf-8") as f:
        for p in ev.predictions:
            f.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
    paths["html"].write_text(render_html(ev), encoding="utf-8")
    return paths


def _finite(rows: list[dict[str, float]]) -> list[dict[str, float | None]]:
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        for r in rows
    ]


# -- HTML ------------------------------------------------------------------------------------------


def render_html(ev: Evaluation) -> str:
    s = ev.summary
    figures = [
        f
        for f in (
            _recall_plot(ev),
            _type_plot(ev),
            _confidence_plot(ev),
            _calibration_plot(ev),
            _latency_plot(ev),
        )
        if f
    ]
    imgs = "\n".join(
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{png}">'
        f"<figcaption>{html.escape(title)}</figcaption></figure>"
        for title, png in figures
    )
    misses = _misses_table(ev)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qa eval: {html.escape(Path(str(s["data"])).name)} ({html.escape(s["mode"])})</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222;
  padding: 0 1em; }}
pre {{ background: #f6f6f6; padding: 1em; white-space: pre-wrap; overflow-wrap: anywhere; }}
figure {{ display: inline-block; margin: 0 1em 1em 0; vertical-align: top; max-width: 100%; }}
figure img {{ width: 540px; max-width: 100%; height: auto; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; width: 100%; font-size: 14px; }}
td, th {{ border: 1px solid #ddd; padding: .35em .5em; vertical-align: top; text-align: left;
  overflow-wrap: break-word; }}
th {{ background: #f0f0f0; }} mark {{ background: #ffe38a; }} .gold {{ background: #c9f0c9; }}
td.passage {{ min-width: 16em; max-width: 520px; color: #444; }}
/* on a narrow screen the table scrolls in its own box; the page never scrolls sideways */
.table {{ overflow-x: auto; }}
</style></head><body>
<h1>qa eval: {html.escape(Path(str(s["data"])).name)}</h1>
<pre>{html.escape(summary_text(ev))}</pre>
<h2>Plots</h2>
{imgs}
{misses}
<h2>All figures</h2>
<pre>{html.escape(json.dumps(s, indent=2, ensure_ascii=False))}</pre>
</body></html>
"""


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float = 6.0, height: float = 3.8) -> Any:
    # the object API, not pyplot: no global backend or figure state in a library
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.add_subplot(1, 1, 1)


def _recall_plot(ev: Evaluation) -> tuple[str, str] | None:
    if not ev.hit_curve:
        return None
    fig, ax = _figure()
    ks = list(range(1, len(ev.hit_curve) + 1))
    ax.plot(ks, ev.hit_curve, marker="." if len(ks) <= 20 else None)
    ax.set_xlabel("k (passages)" if ev.summary["mode"] != "retrieval" else "k (documents)")
    ax.set_ylabel("questions with a relevant item in top k")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title("recall@k")
    return "Recall@k: share of questions with a relevant passage in the top k", _png(fig)


def _type_plot(ev: Evaluation) -> tuple[str, str] | None:
    by_type = ev.summary.get("f1_by_question_type") or {}
    if not by_type:
        return None
    fig, ax = _figure()
    types = [t for t in QUESTION_TYPES if t in by_type]
    values = [by_type[t]["f1"] for t in types]
    bars = ax.bar(types, values, color="#4c78a8")
    for bar, t in zip(bars, types, strict=True):
        x = bar.get_x() + bar.get_width() / 2
        ax.annotate(
            f"n={by_type[t]['count']}", (x, bar.get_height()), ha="center", va="bottom", fontsize=8
        )
    ax.set_ylim(0, 105)
    ax.set_ylabel("F1 (%)")
    ax.set_title("F1 by question type")
    return "F1 by question type (first wh-word of the question)", _png(fig)


def _confidence_plot(ev: Evaluation) -> tuple[str, str] | None:
    pairs = [(s.confidence, s.answerable) for s in ev.scored if s.confidence is not None]
    if not pairs:
        return None
    fig, ax = _figure()
    bins = [i / 20 for i in range(21)]
    ans = [c for c, a in pairs if a]
    unans = [c for c, a in pairs if not a]
    if ans:
        ax.hist(ans, bins=bins, alpha=0.6, label=f"answerable ({len(ans)})", color="#4c78a8")
    if unans:
        ax.hist(unans, bins=bins, alpha=0.6, label=f"unanswerable ({len(unans)})", color="#e45756")
    t = ev.summary.get("threshold")
    if t is not None:
        ax.axvline(t, color="k", linestyle="--", label=f"threshold {t:.2f}")
    best = ev.summary.get("best_threshold")
    if best is not None and best != t:
        ax.axvline(best, color="green", linestyle=":", label=f"best {best:.2f}")
    ax.set_xlabel("confidence of the best span")
    ax.set_ylabel("questions")
    ax.legend(fontsize=8)
    ax.set_title("confidence: answerable vs unanswerable")
    return "Confidence of the best span for answerable and unanswerable questions", _png(fig)


def _calibration_plot(ev: Evaluation) -> tuple[str, str] | None:
    fig = calibration_figure(ev)
    if fig is None:
        return None
    return "Calibration: stated confidence vs how often the best span is right (F1 >= 0.5)", _png(
        fig
    )


def calibration_figure(ev: Evaluation) -> Any:
    """The reliability diagram. Its legend sits below the axes: inside, wherever it went, some
    bin's bar could be behind it."""
    rows = [r for r in ev.calibration_bins if r["count"]]
    if not rows:
        return None
    fig, ax = _figure(5.0, 4.6)
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", label="perfect calibration")
    ax.bar(
        [(r["lo"] + r["hi"]) / 2 for r in rows],
        [r["accuracy"] for r in rows],
        width=[r["hi"] - r["lo"] for r in rows],
        alpha=0.35,
        edgecolor="#4c78a8",
        label="share right per bin",
    )
    ax.plot(
        [r["confidence"] for r in rows],
        [r["accuracy"] for r in rows],
        marker="o",
        color="#4c78a8",
        label="mean confidence vs rate",
    )
    for r in rows:
        ax.annotate(str(r["count"]), ((r["lo"] + r["hi"]) / 2, 0.02), ha="center", fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("stated confidence")
    ax.set_ylabel("observed share right (token F1 >= 0.5)")
    ax.set_title(f"reliability diagram (ECE {_num(ev.summary.get('ece'), 3)})")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    return fig


def _latency_plot(ev: Evaluation) -> tuple[str, str] | None:
    key = next(
        (k for k in ("http", "total", "search") if any(k in p.timings_ms for p in ev.predictions)),
        None,
    )
    if key is None:
        return None
    values = [p.timings_ms[key] for p in ev.predictions if key in p.timings_ms]
    fig, ax = _figure()
    ax.hist(values, bins=40, color="#72b7b2")
    lat = ev.summary.get("latency_ms") or {}
    for name, style in (("p50", "--"), ("p95", ":"), ("p99", "-.")):
        if lat.get(name) is not None:
            ax.axvline(lat[name], color="k", linestyle=style, label=f"{name} {lat[name]:.0f} ms")
    ax.set_xlabel(f"ms per question ({key})")
    ax.set_ylabel("questions")
    ax.legend(fontsize=8)
    ax.set_title("latency")
    return f"Latency per question ({key}; batched requests share their time out)", _png(fig)


# -- worst misses ----------------------------------------------------------------------------------


def worst_misses(ev: Evaluation, n: int = WORST) -> list[Prediction]:
    """Confident wrong answers first, then answerable questions left unanswered: the misses a
    user notices most."""
    if ev.summary["mode"] == "retrieval":
        missed = sorted(ev.predictions, key=lambda p: -(p.first_relevant or 10**6))
        return [p for p in missed if p.first_relevant != 1][:n]
    missed = [p for p in ev.predictions if p.f1 < 1.0]
    missed.sort(key=lambda p: (p.f1, -(p.confidence or 0.0) if p.answered else 1.0))
    return missed[:n]


def _misses_table(ev: Evaluation) -> str:
    misses = worst_misses(ev)
    if not misses:
        return "<h2>Worst misses</h2><p>None.</p>"
    e = html.escape
    if ev.summary["mode"] == "retrieval":
        rows = "".join(
            f"<tr><td>{e(p.question)}</td><td>{e(', '.join(p.gold_docs))}</td>"
            f"<td>{p.first_relevant or '&gt;100'}</td>"
            f"<td>{e(', '.join(x['doc_id'] for x in p.passages[:5]))}</td></tr>"
            for p in misses
        )
        head = "<th>query</th><th>relevant docs</th><th>first relevant rank</th><th>top 5</th>"
    else:
        rows = "".join(_miss_row(p) for p in misses)
        head = (
            "<th>question</th><th>gold</th><th>predicted (confidence)</th><th>F1</th>"
            "<th>passage</th>"
        )
    table = f'<div class="table"><table><tr>{head}</tr>{rows}</table></div>'
    return f"<h2>The {len(misses)} worst misses</h2>{table}"


def _miss_row(p: Prediction) -> str:
    e = html.escape
    gold = " | ".join(dict.fromkeys(p.answers)) or "(no answer)"
    if p.answered:
        predicted = f"{e(p.prediction)} ({p.confidence:.2f})"
    elif p.candidate:
        predicted = f"(no answer; best span {e(p.candidate)!s} at {p.confidence:.2f})"
    else:
        predicted = "(no answer)"
    passage = p.evidence
    text = _snippet(passage, p.prediction or p.candidate, p.answers) if passage else ""
    where = e(f"[{passage['doc_id']}] ") if passage else ""
    return (
        f"<tr><td>{e(p.question)}</td><td>{e(gold)}</td><td>{predicted}</td>"
        f"<td>{p.f1:.2f}</td><td class=passage>{where}{text}</td></tr>"
    )


def _snippet(
    passage: dict[str, Any], predicted: str | None, answers: list[str], width: int = 420
) -> str:
    """The passage around the predicted span (or a gold answer), marked, escaped, shortened."""
    text = str(passage.get("text") or "")
    spans = []
    if predicted and (i := text.find(predicted)) >= 0:
        spans.append((i, i + len(predicted), "mark"))
    for a in answers:
        if (
            a
            and (i := text.find(a)) >= 0
            and not any(s < i + len(a) and i < t for s, t, _ in spans)
        ):
            spans.append((i, i + len(a), "gold"))
            break
    center = spans[0][0] if spans else 0
    lo = max(0, center - width // 2)
    hi = min(len(text), lo + width)
    out, pos = [], lo
    for s, t, kind in sorted(spans):
        if s < lo or t > hi:
            continue
        out.append(html.escape(text[pos:s]))
        tag = "<mark>" if kind == "mark" else '<mark class="gold">'
        out.append(f"{tag}{html.escape(text[s:t])}</mark>")
        pos = t
    out.append(html.escape(text[pos:hi]))
    return ("…" if lo else "") + "".join(out) + ("…" if hi < len(text) else "")
