"""The ``qa`` command: index, ask, search, delete, documents, plus the subcommands registered by
the web, evaluation and training modules (serve, eval, train-reader)."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from qa.errors import QAError, StoreUnavailable
from qa.readers import NAMES as READER_NAMES
from qa.settings import Settings
from qa.types import Answer, Filters, Passage, Result

#: modules that add their own subcommands through ``register(subparsers)``
PLUGINS = ("qa.web.serve", "qa.eval.cli", "qa.train.cli")


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = Settings.from_env(
            index_dir=args.index_dir,
            embed_model=args.embed_model,
            reader=args.reader,
            reader_model=args.reader_model,
            top_k=args.top_k,
            chunk_tokens=args.chunk_tokens,
            answer_threshold=args.threshold,
            log_level=args.log_level,
        )
        return int(args.func(args, settings) or 0)
    except StoreUnavailable as exc:  # its message is for clients; the operator wants the cause
        print(f"qa: error: {exc} ({exc.__cause__ or 'no cause'})", file=sys.stderr)
        return 1
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Extractive question answering over your articles, with citations."
    )
    g = parser.add_argument_group("settings (also QA_* environment variables)")
    g.add_argument("--index-dir", help="index directory (QA_INDEX_DIR, default ./index)")
    g.add_argument("--embed-model", help="sentence-transformers model path or id (QA_EMBED_MODEL)")
    g.add_argument("--reader", choices=list(READER_NAMES), help="QA_READER")
    g.add_argument("--reader-model", help="QA model path or hub id (QA_READER_MODEL)")
    g.add_argument("--top-k", type=int, help="passages per question (QA_TOP_K, default 5)")
    g.add_argument("--chunk-tokens", type=int, help="chunk size in word pieces (QA_CHUNK_TOKENS)")
    g.add_argument("--threshold", type=float, help="answer threshold (QA_ANSWER_THRESHOLD)")
    g.add_argument("--log-level", default=os.environ.get("QA_LOG_LEVEL", "WARNING"))
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("index", help="add files or folders to the index (default: the corpus)")
    p.add_argument("paths", nargs="*", help="files or folders (.txt .md .html .jsonl)")
    p.add_argument("--rebuild", action="store_true", help="build a fresh index and swap it in")
    p.add_argument(
        "--engine", choices=["local", "ray"], help="embed here, or on Ray (QA_INDEX_ENGINE)"
    )
    p.add_argument("--address", help="Ray cluster address (default: a local Ray on 127.0.0.1)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer a question with a cited extractive span")
    p.add_argument("question")
    _add_query_flags(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("search", help="retrieve passages only")
    p.add_argument("query")
    _add_query_flags(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("delete", help="remove a document and all its chunks")
    p.add_argument("doc_id")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("documents", help="list indexed documents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_documents)

    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that part of the product is not installed
            raise
        module.register(sub)
    return parser


def _add_query_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("-k", dest="k", type=int, help="same as --top-k")
    p.add_argument("--doc", action="append", dest="doc_ids", help="only this document (repeat)")
    p.add_argument("--source", action="append", dest="sources", help="only this source (repeat)")
    p.add_argument("--date-from", help="only documents dated on/after (YYYY-MM-DD)")
    p.add_argument("--date-to", help="only documents dated on/before (YYYY-MM-DD)")


def _query_filters(args: argparse.Namespace) -> Filters:
    return Filters(args.doc_ids, args.sources, args.date_from, args.date_to)


def _service(settings: Settings, build: bool = True) -> Any:
    from qa.service import QAService

    svc = QAService(settings)
    if build:
        report = svc.ensure_index()
        if report is not None:
            print(
                f"built the index in {settings.index_dir} from "
                f"{', '.join(map(str, settings.corpus))}: {len(report.added)} documents, "
                f"{report.chunks} chunks",
                file=sys.stderr,
            )
            _print_problems(report.problems)
    return svc


def _print_problems(problems: list[Any]) -> None:
    for problem in problems:
        print(f"skipped {problem.path}: {problem.reason}", file=sys.stderr)


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from qa.service import QAService

    svc = QAService(settings.replace(index_engine=args.engine, ray_address=args.address))
    paths = args.paths or None
    report = svc.rebuild(paths, progress=True) if args.rebuild else svc.index(paths, progress=True)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _print_problems(report.problems)
        docs, chunks = svc.store.count()
        print(
            f"added {len(report.added)}, replaced {len(report.replaced)}, unchanged "
            f"{len(report.unchanged)} documents ({report.chunks} chunks written, "
            f"{report.seconds:.1f}s); index {settings.index_dir}: {docs} documents, {chunks} chunks"
        )
    loaded = len(report.added) + len(report.replaced) + len(report.unchanged)
    return 1 if report.problems and not loaded else 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    svc = _service(settings)
    result = svc.ask(args.question, top_k=args.k, filters=_query_filters(args))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_result(result))
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    svc = _service(settings)
    passages = svc.search(args.query, top_k=args.k, filters=_query_filters(args))
    if args.json:
        print(json.dumps([p.to_dict() for p in passages], indent=2, ensure_ascii=False))
    else:
        for p in passages:
            print(format_passage(p))
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    svc = _service(settings, build=False)
    n = svc.delete(args.doc_id)
    print(f"deleted {args.doc_id} ({n} chunks)")
    return 0


def cmd_documents(args: argparse.Namespace, settings: Settings) -> int:
    svc = _service(settings, build=False)
    docs = svc.documents()
    if args.json:
        print(json.dumps([d.to_dict() for d in docs], indent=2, ensure_ascii=False))
    else:
        for d in docs:
            meta = ", ".join(x for x in (d.source, d.date) if x)
            print(f"{d.id}  {d.title[:70]}{f'  ({meta})' if meta else ''}  [{d.chunks} chunks]")
    return 0


def format_result(result: Result) -> str:
    lines = [f"Q: {result.question}"]
    if result.answer is None:
        lines.append("A: no answer in these documents")
        lines.append(f"   (no-answer score {result.no_answer_score:.2f}; closest passages below)")
    else:
        lines += _format_answer(result.answer)
        for other in result.answers[1:]:
            lines.append(f"   also: {other.text!r} ({other.score:.2f}, {other.doc_id})")
    lines.append("")
    lines += [format_passage(p) for p in result.passages[:3]]
    return "\n".join(lines)


def _format_answer(answer: Answer) -> list[str]:
    lines = [f"A: {answer.text}   (confidence {answer.score:.2f})"]
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.date) if x)
        lines.append(
            f"   [{c.doc_id}] {c.title[:70]}{f' ({meta})' if meta else ''}  chars {c.start}-{c.end}"
        )
    lines.append("   " + textwrap.shorten(answer.sentence, 200))
    return lines


def format_passage(p: Passage) -> str:
    return (
        f"#{p.rank} [{p.doc_id} {p.start}-{p.end}] {p.title[:60]}  (score {p.score:.4f})\n"
        f"   {textwrap.shorten(p.text, 220)}"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
