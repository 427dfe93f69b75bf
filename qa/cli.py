"""The ``qa`` command: index, ask, search, delete, documents, plus the subcommands registered by
the web, evaluation and training modules (serve, healthcheck, eval, train-reader)."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import shlex
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.errors import QAError, StoreUnavailable
from qa.read import NAMES as READER_NAMES
from qa.settings import InvalidSetting, Settings
from qa.types import Answer, Filters, Passage, Result

#: modules that add their own subcommands through ``register(subparsers)``
PLUGINS = ("qa.web.serve", "qa.web.healthcheck", "qa.eval.cli", "qa.train.cli")

#: the option that sets each ``Settings`` field, to name it when its value is refused
SETTING_FLAGS = {
    "index_dir": "--index-dir",
    "embed_model": "--embed-model",
    "reader": "--reader",
    "reader_model": "--reader-model",
    "top_k": "--top-k",
    "chunk_tokens": "--chunk-tokens",
    "answer_threshold": "--threshold",
    "log_level": "--log-level",
}

#: characters of a title on a line of output
TITLE_CHARS = 70


class NoIndex(QAError):
    """A reading command found no index and nothing to build one from."""

    code = "no_index"


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
        except InvalidSetting as exc:
            flag = SETTING_FLAGS.get(exc.field)
            if flag and getattr(args, flag[2:].replace("-", "_"), None) is not None:
                # a flag's value: the command's usage and the service's own words
                args.command_parser.error(f"argument {flag}: {exc}")
            raise
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


def _settings_options(in_command: bool) -> argparse.ArgumentParser:
    """The options that set ``Settings`` fields, as a parent parser. The top-level parser and
    every command take them, so ``qa --top-k 3 search x`` and ``qa search x --top-k 3`` mean the
    same. In a command they default to ``SUPPRESS``: a command's default would otherwise
    overwrite the value given before the command's name."""
    parent = argparse.ArgumentParser(add_help=False)
    unset: Any = argparse.SUPPRESS if in_command else None
    g = parent.add_argument_group("settings (also QA_* environment variables)")
    g.add_argument(
        "--index-dir", default=unset, help="index directory (QA_INDEX_DIR, default ./index)"
    )
    g.add_argument(
        "--embed-model",
        default=unset,
        help="sentence-transformers model path or id (QA_EMBED_MODEL)",
    )
    g.add_argument("--reader", default=unset, choices=list(READER_NAMES), help="QA_READER")
    g.add_argument(
        "--reader-model", default=unset, help="QA model path or hub id (QA_READER_MODEL)"
    )
    g.add_argument(
        "--top-k", type=int, default=unset, help="passages per question (QA_TOP_K, default 5)"
    )
    g.add_argument(
        "--chunk-tokens",
        type=int,
        default=unset,
        help="chunk size in word pieces (QA_CHUNK_TOKENS)",
    )
    g.add_argument(
        "--threshold", type=float, default=unset, help="answer threshold (QA_ANSWER_THRESHOLD)"
    )
    g.add_argument(
        "--log-level",
        default=argparse.SUPPRESS if in_command else os.environ.get("QA_LOG_LEVEL", "WARNING"),
        help="QA_LOG_LEVEL, default WARNING",
    )
    return parent


class _Command(argparse.ArgumentParser):
    """A command's parser (``qa ask``, ``qa serve``, ...): it takes the settings options too,
    and it reports an argument it does not know itself, with its own usage, where the
    top-level parser would show the top-level usage."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["parents"] = [*kwargs.get("parents", ()), _settings_options(in_command=True)]
        super().__init__(**kwargs)
        self.set_defaults(command_parser=self)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa",
        description="Extractive question answering over your articles, with citations.",
        parents=[_settings_options(in_command=False)],
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Command)

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
    p.add_argument("-k", dest="top_k", type=int, default=argparse.SUPPRESS, help="same as --top-k")
    p.add_argument("--doc", action="append", dest="doc_ids", help="only this document (repeat)")
    p.add_argument("--source", action="append", dest="sources", help="only this source (repeat)")
    p.add_argument("--date-from", help="only documents dated on/after (YYYY-MM-DD)")
    p.add_argument("--date-to", help="only documents dated on/before (YYYY-MM-DD)")


def _query_filters(args: argparse.Namespace) -> Filters:
    return Filters(args.doc_ids, args.sources, args.date_from, args.date_to)


def _service(settings: Settings) -> Any:
    """The service over the index, built now from the corpus when there is none (first use).
    With no index and nothing to build one from, nothing is written and ``NoIndex`` says how to
    make one: an empty index would answer every question with "no answer"."""
    from qa.service import QAService

    svc = QAService(settings)
    report = svc.ensure_index()
    if report is None:
        return svc
    if report.added or report.replaced:
        print(
            f"built the index in {_where(settings)} from "
            f"{', '.join(map(str, settings.indexing.corpus))}: {len(report.added)} documents, "
            f"{report.chunks} chunks",
            file=sys.stderr,
        )
        _print_problems(report.problems)
    elif not svc.index_exists():
        why = "; ".join(f"{p.path}: {p.reason}" for p in report.problems) or "no documents"
        raise NoIndex(
            f"no index in {_where(settings)}, and nothing to build one from ({why}); "
            f"make one with: {_index_command(settings)}"
        )
    return svc


def _where(settings: Settings) -> str:
    storage = settings.storage
    if storage.store == "pgvector":  # never the URL: it may hold a password
        return f"the PostgreSQL database of QA_DATABASE_URL (tables {storage.pg_table_prefix}*)"
    return os.path.abspath(storage.index_dir)


def _index_command(settings: Settings) -> str:
    storage = settings.storage
    if storage.store != "faiss" or storage.index_dir == Path("index"):
        return "qa index FILES_OR_FOLDERS"
    return f"qa --index-dir {shlex.quote(str(storage.index_dir))} index FILES_OR_FOLDERS"


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
            f"{report.seconds:.1f}s); index {settings.storage.index_dir}: {docs} documents, "
            f"{chunks} chunks"
        )
    loaded = len(report.added) + len(report.replaced) + len(report.unchanged)
    return 1 if report.problems and not loaded else 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    svc = _service(settings)
    result = svc.ask(args.question, filters=_query_filters(args))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_result(result))
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    svc = _service(settings)
    passages = svc.search(args.query, filters=_query_filters(args))
    if args.json:
        print(json.dumps([p.to_dict() for p in passages], indent=2, ensure_ascii=False))
    else:
        for p in passages:
            print(format_passage(p))
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    from qa.service import QAService

    svc = QAService(settings)
    if not svc.index_exists():  # opening would create an empty index just to find nothing
        raise NoIndex(f"no index in {_where(settings)}: nothing to delete")
    n = svc.delete(args.doc_id)
    print(f"deleted {args.doc_id} ({n} chunks)")
    return 0


def cmd_documents(args: argparse.Namespace, settings: Settings) -> int:
    svc = _service(settings)
    docs = svc.documents()
    if args.json:
        print(json.dumps([d.to_dict() for d in docs], indent=2, ensure_ascii=False))
        return 0
    if not docs:
        print(
            f"the index in {_where(settings)} is empty; add documents with: "
            f"{_index_command(settings)}",
            file=sys.stderr,
        )
    for d in docs:
        meta = ", ".join(x for x in (d.source, d.date) if x)
        print(f"{d.id}  {clip(d.title)}{f'  ({meta})' if meta else ''}  [{d.chunks} chunks]")
    return 0


def format_result(result: Result) -> str:
    """The answer and every passage retrieved: the same passages, in the same order, as the
    web page lists."""
    lines = [f"Q: {result.question}"]
    if result.answer is None:
        lines.append("A: no answer in these documents")
        where = "closest passages below" if result.passages else "no passage matched"
        lines.append(f"   (no-answer score {result.no_answer_score:.2f}; {where})")
        if result.refusal is not None:
            closest = result.refusal.closest
            lines.append(
                f"   closest candidate, not stated: {closest.text!r} ({closest.score:.2f}, "
                f"{closest.doc_id})"
            )
            lines.append(f"   why: {result.refusal.reason}")
    else:
        lines += _format_answer(result.answer)
        for other in result.answers[1:]:
            lines.append(f"   also: {other.text!r} ({other.score:.2f}, {other.doc_id})")
    lines.append("")
    lines += [format_passage(p) for p in result.passages]
    return "\n".join(lines)


def _format_answer(answer: Answer) -> list[str]:
    lines = [f"A: {answer.text}   (confidence {answer.score:.2f})"]
    for c in answer.citations:
        meta = f" ({', '.join(x for x in (c.source, c.date) if x)})" if c.source or c.date else ""
        lines.append(f"   [{c.doc_id}] {clip(c.title)}{meta}  chars {c.start}-{c.end}")
    lines.append("   " + textwrap.shorten(answer.sentence, 200, placeholder=" …"))
    return lines


def format_passage(p: Passage) -> str:
    return (
        f"#{p.rank} [{p.doc_id} {p.start}-{p.end}] {clip(p.title, 60)}  (score {p.score:.4f})\n"
        f"   {textwrap.shorten(p.text, 220, placeholder=' …')}"
    )


def clip(text: str, width: int = TITLE_CHARS) -> str:
    """``text`` on one line in at most ``width`` characters, cut at a word boundary with an
    ellipsis that says it was cut (a single word longer than the line is cut where it must)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    head = text[: width - 1]
    if text[width - 1] != " " and " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:-–—") + "…"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
