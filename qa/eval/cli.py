"""``qa eval DATA``: score the library (or a running service) on SQuAD, our jsonl or BEIR data."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from qa.settings import Settings

DESCRIPTION = """\
Ask every question of DATA and score the answers (exact match, F1, abstention) and the ranking
(recall@k, MRR, nDCG). DATA is SQuAD v1.1/v2.0 JSON (each paragraph becomes a document, all indexed
together in a temporary index unless --index is given), our jsonl (asked of the existing index, the
seeds by default) or a BEIR folder (retrieval only). Prints a summary table and writes summary.json,
predictions.jsonl and report.html to --report (default reports/eval-<data>-<mode>/)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate on SQuAD / jsonl / BEIR data",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", metavar="DATA", help="SQuAD .json, our .jsonl, or a BEIR folder")
    p.add_argument("--url", help="evaluate a running service (e.g. http://127.0.0.1:8000)")
    p.add_argument(
        "--token", help="API token to add missing documents to the service (default QA_API_TOKEN)"
    )
    p.add_argument(
        "--index",
        metavar="DIR",
        help="index folder to build or reuse (SQuAD, BEIR) "
        "or to ask (jsonl; default the configured index)",
    )
    p.add_argument(
        "--gold-passage",
        action="store_true",
        help="SQuAD: hand the reader only the question's own paragraph",
    )
    p.add_argument(
        "--out-of-corpus",
        action="store_true",
        help="SQuAD: ask the selected articles' answerable questions of an index holding only "
        "the file's other articles; the right output is no answer",
    )
    p.add_argument("--limit", type=int, metavar="N", help="a random sample of N questions")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="sample seed (default 0)")
    p.add_argument("--report", metavar="DIR", help="where to write the report and JSON")
    p.add_argument(
        "--json-only",
        action="store_true",
        help="print one JSON object with the figures and nothing else on stdout",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--articles",
        metavar="FILE[:KEY]",
        help="SQuAD: only these articles (JSON list of titles, or a split file "
        "with e.g. a 'heldout' or 'test' list; :KEY picks the list)",
    )
    group.add_argument(
        "--split-file", dest="articles", metavar="FILE[:KEY]", help="same as --articles"
    )
    p.add_argument(
        "--qrels",
        default="test",
        metavar="SPLIT",
        help="BEIR judgments to use: qrels/SPLIT.tsv (default test)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=32,
        metavar="N",
        help="questions per ask_batch call / HTTP request (default 32)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from qa.eval import report, runner
    from qa.eval.formats import load_dataset, read_article_selection
    from qa.eval.squad import Dataset, out_of_corpus, read_squad

    if args.url and args.index:
        raise ValueError("--index is for in-process runs; the service at --url has its own")
    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    articles = read_article_selection(args.articles) if args.articles else None
    data = load_dataset(args.data, articles, args.qrels)
    if args.out_of_corpus:
        if not isinstance(data, Dataset) or data.kind != "squad" or articles is None:
            raise ValueError("--out-of-corpus needs SQuAD data and --articles")
        if args.gold_passage:
            raise ValueError("--out-of-corpus asks open-domain; drop --gold-passage")
        data = out_of_corpus(data, read_squad(args.data))
    temp: str | None = None
    target: Any
    if args.url:
        from qa.eval.targets import HttpTarget

        target = HttpTarget(args.url, token=args.token or settings.server.api_token)
    else:
        from qa.eval.targets import LocalTarget

        if args.index:
            index_dir = Path(args.index)
        elif isinstance(data, Dataset) and data.kind == "jsonl":
            index_dir = settings.storage.index_dir
        else:
            temp = tempfile.mkdtemp(prefix="qa-eval-index-")
            index_dir = Path(temp)
        local = settings.replace(index_dir=index_dir)
        if data.kind == "beir":  # fuse deep enough lists for recall@100
            local = local.replace(candidates=max(local.retrieval.candidates, runner.BEIR_DEPTH))
        target = LocalTarget(local, with_reader=data.kind != "beir")
    try:
        evaluation = runner.run(
            data,
            target,
            gold_passage=args.gold_passage,
            limit=args.limit,
            seed=args.seed,
            batch_size=args.batch_size,
            progress=not args.no_progress,
        )
    finally:
        target.close()
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
    if temp:
        evaluation.summary["index_dir"] = None  # it was temporary and is gone
    report_dir = args.report
    if report_dir is None and not args.json_only:
        stem = re.sub(r"[^\w.-]+", "-", Path(args.data).stem or Path(args.data).name)
        report_dir = Path("reports") / f"eval-{stem}-{evaluation.summary['mode']}"
    written = report.write_report(evaluation, report_dir) if report_dir else None
    if args.json_only:
        print(json.dumps(evaluation.summary, ensure_ascii=False))
    else:
        print(report.summary_text(evaluation))
        if written:
            print(
                f"\nreport: {written['html']}\njson:   {written['summary']} "
                f"(per question: {written['predictions']})"
            )
    sys.stdout.flush()
    return 0
