"""How the dense and BM25 rankings are fused, chosen on questions that are not the ones reported.

    python bench/fusion.py                  # 859 SQuAD 2.0 dev paragraphs
    python bench/fusion.py --select 3000

Builds our index over the paragraphs (as ``bench/peers.py`` does), fetches each question's two
candidate lists once (dense and BM25, ``candidates`` deep), then ranks them by every fusion in the
grid with the retriever's own ``qa.retrieve.fuse``. Two disjoint question sets:

- ``select``: answerable questions outside peers' sample, drawn with another seed; the fusion
  and weight the service uses are the best here (recall@5 + MRR@10).
- ``report``: peers' sample (300 questions, seed 0), shown beside it and never used to choose.

A passage is relevant when it contains a gold answer, as in ``qa eval`` and peers. Writes
bench/results/fusion.json.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from common import SHARED_DATA, shared_data, table, write_result

from qa.eval.runner import contains_answer, sample
from qa.eval.squad import Example, read_squad
from qa.retrieve import fuse
from qa.service import QAService
from qa.settings import Settings

#: (fusion, dense weight, rrf k)
GRID = [("rrf", 0.5, k) for k in (10, 20, 60, 100)] + [
    ("convex", w, 60) for w in (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0)
]

Lists = tuple[list[tuple[int, float]], list[tuple[int, float]], set[int]]


def candidate_lists(svc: QAService, questions: list[Example]) -> list[Lists]:
    """Each question's dense and BM25 candidates and which of them hold a gold answer."""
    retriever = svc.retriever
    depth = svc.settings.candidates
    out = []
    for ex, vector in zip(questions, svc.embedder.embed([e.question for e in questions]),
                          strict=True):
        dense, lexical = retriever.candidates_for(ex.question, vector, depth)
        ids = {c for c, _ in dense} | {c for c, _ in lexical}
        chunks = retriever.store.get_chunks(sorted(ids))
        relevant = {c for c in ids if contains_answer(chunks[c].text, ex.answers)}
        out.append((dense, lexical, relevant))
    return out


def score(lists: list[Lists], fusion: str, weight: float, k: int) -> dict[str, float]:
    hit5 = rr = 0.0
    for dense, lexical, relevant in lists:
        fused = fuse(dense, lexical, fusion, weight, k)
        ranked = sorted(fused, key=lambda c: (-fused[c]["fused"], c))[:10]
        first = next((i for i, c in enumerate(ranked, 1) if c in relevant), None)
        hit5 += first is not None and first <= 5
        rr += 1 / first if first else 0.0
    return {"recall@5": round(hit5 / len(lists), 4), "mrr@10": round(rr / len(lists), 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "squad2-dev-public.json")
    ap.add_argument("--select", type=int, default=1500, help="selection questions")
    args = ap.parse_args()

    data = read_squad(shared_data(args.data))
    answerable = [e for e in data.examples if e.answerable]
    report = sample(answerable, 300, 0)  # bench/peers.py's questions
    asked = {e.question for e in report}
    select = sample([e for e in answerable if e.question not in asked], args.select, 1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-fusion-"))
    try:
        svc = QAService(Settings(index_dir=tmp / "index"))
        svc.add_documents(data.documents)
        svc.retriever.sync()
        sets = {"select": candidate_lists(svc, select), "report": candidate_lists(svc, report)}
        svc.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows: list[dict[str, Any]] = []
    for fusion, weight, k in GRID:
        row: dict[str, Any] = {"fusion": fusion, "dense_weight": weight if fusion == "convex"
                               else None, "rrf_k": k if fusion == "rrf" else None}
        for name, lists in sets.items():
            row[name] = score(lists, fusion, weight, k)
        rows.append(row)
    best = max(rows, key=lambda r: r["select"]["recall@5"] + r["select"]["mrr@10"])
    defaults = Settings()
    print(f"{len(data.documents)} paragraphs; select {len(select)} questions, report "
          f"{len(report)} (peers' sample)")
    print(table(["fusion", "dense weight", "rrf k", "select recall@5", "select MRR@10",
                 "report recall@5", "report MRR@10"],
                [[r["fusion"], r["dense_weight"], r["rrf_k"], r["select"]["recall@5"],
                  r["select"]["mrr@10"], r["report"]["recall@5"], r["report"]["mrr@10"]]
                 for r in rows]))
    print(f"best on select: {best['fusion']} dense_weight={best['dense_weight']} "
          f"rrf_k={best['rrf_k']}; the service's default: {defaults.fusion} "
          f"dense_weight={defaults.dense_weight}")
    path = write_result("fusion", {
        "data": str(args.data), "documents": len(data.documents),
        "select_questions": len(select), "report_questions": len(report),
        "candidates": defaults.candidates, "rows": rows,
        "best_on_select": {k: best[k] for k in ("fusion", "dense_weight", "rrf_k")},
        "default": {"fusion": defaults.fusion, "dense_weight": defaults.dense_weight},
    })
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
