"""Article text from web pages: our former HTML extractor + line cleaner next to trafilatura.

The pages in ``bench/data/html/`` were made for this comparison: the seed articles (and one
written for it) inside nav bars, share widgets, cookie banners, sidebars, comment sections, author
boxes, a table layout and footers; ``gold.json`` lists what is the article on each (headline and
body paragraphs) and its title, date and publisher. For each page and extractor: precision, recall
and F1 of the extracted words (lowercased word tokens counted as a multiset) against the gold
words, over the text that would be indexed (the kept regions of the document), plus whether
title, date and publisher came out right.

"ours" is ``qa/load.py``'s own ``html.parser`` extractor followed by ``qa/clean.py``, taken from
git at ``--ours-commit`` (it was removed from the tree when trafilatura replaced it), and run
against today's ``qa.ingest.clean`` / ``qa.ingest.metadata``. "trafilatura" is today's loader
(the settings the product uses: the library's defaults, comments excluded); "trafilatura-precision"
is the same with ``favor_precision=True``, for comparison.

    python bench/html_extract.py            # writes bench/results/html_extract.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import types
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT, table, write_result

PAGES = ROOT / "bench" / "data" / "html"
#: the last commit whose qa/load.py still had our HTML extractor
OURS_COMMIT = "de3521c"
_WORD = re.compile(r"\w+")

Extractor = Callable[[Path], dict[str, Any]]


def words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in _WORD.findall(text))


def prf(found: Counter[str], gold: Counter[str]) -> tuple[float, float, float]:
    overlap = sum((found & gold).values())
    p = overlap / max(sum(found.values()), 1)
    r = overlap / max(sum(gold.values()), 1)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def indexed(text: str, content: list[tuple[int, int]]) -> str:
    return "\n".join(text[s:e] for s, e in content)


def ours(commit: str) -> Extractor:
    """Our removed extractor, loaded from git as a module, then cleaned as load.py did."""
    source = subprocess.run(["git", "show", f"{commit}:qa/load.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType("qa_load_before_trafilatura")
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(source, f"{commit}:qa/load.py", "exec"), module.__dict__)
    from qa.ingest.clean import content_regions
    from qa.ingest.metadata import extract_metadata

    def run(path: Path) -> dict[str, Any]:
        page = module.extract_html(path.read_text(encoding="utf-8"))
        content = content_regions(page.text)
        meta = extract_metadata(page.text, content, str(path))
        return {"text": indexed(page.text, content), "title": page.title or meta["title"],
                "date": page.date or meta["date"], "source": page.source or meta["source"]}

    return run


def trafilatura_product(path: Path) -> dict[str, Any]:
    from qa.ingest.load import load_file

    (doc,) = load_file(path)
    return {"text": indexed(doc.text, doc.content), "title": doc.title, "date": doc.date,
            "source": doc.source}


def trafilatura_precision(path: Path) -> dict[str, Any]:
    import trafilatura

    found = trafilatura.bare_extraction(path.read_text(encoding="utf-8"), include_comments=False,
                                        favor_precision=True, with_metadata=True)
    return {"text": found.text if found else "", "title": found.title if found else None,
            "date": found.date if found else None, "source": found.sitename if found else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours-commit", default=OURS_COMMIT)
    args = ap.parse_args()
    gold = json.loads((PAGES / "gold.json").read_text(encoding="utf-8"))
    extractors: dict[str, Extractor] = {
        "ours": ours(args.ours_commit),
        "trafilatura": trafilatura_product,
        "trafilatura-precision": trafilatura_precision,
    }
    pages: list[dict[str, Any]] = []
    totals: dict[str, dict[str, Any]] = {}
    for name in sorted(gold):
        want = words("\n".join(gold[name]["article"]))
        row: dict[str, Any] = {"page": name}
        for label, extract in extractors.items():
            got = extract(PAGES / f"{name}.html")
            p, r, f = prf(words(got["text"]), want)
            expected = gold[name]
            row[label] = {
                "precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
                "title_ok": got["title"] == expected["title"],
                "date_ok": got["date"] == expected["date"],
                "source_ok": got["source"] == expected["source"],
            }
            t = totals.setdefault(label, {"f1": [], "title_ok": 0, "date_ok": 0, "source_ok": 0})
            t["f1"].append(f)
            for key in ("title_ok", "date_ok", "source_ok"):
                t[key] += row[label][key]
        pages.append(row)
    summary = {label: {"mean_f1": round(sum(t["f1"]) / len(t["f1"]), 4),
                       "min_f1": round(min(t["f1"]), 4),
                       **{k: f"{t[k]}/{len(pages)}" for k in ("title_ok", "date_ok", "source_ok")}}
               for label, t in totals.items()}
    labels = list(extractors)
    print(table(["page", *(f"{lb} P/R/F1" for lb in labels)],
                [[r["page"], *(f"{r[lb]['precision']:.2f}/{r[lb]['recall']:.2f}/{r[lb]['f1']:.3f}"
                               for lb in labels)] for r in pages]))
    print()
    print(table(["extractor", "mean F1", "min F1", "title", "date", "publisher"],
                [[lb, s["mean_f1"], s["min_f1"], s["title_ok"], s["date_ok"], s["source_ok"]]
                 for lb, s in summary.items()]))
    path = write_result("html_extract", {"ours_commit": args.ours_commit, "pages": pages,
                                         "summary": summary})
    print(f"\nwritten {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
