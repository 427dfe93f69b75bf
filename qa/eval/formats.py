"""Evaluation data readers: our jsonl and BEIR (SQuAD JSON is ``qa.eval.squad``'s), and the one
entry point that tells them apart, into typed records.

Every reader fails with a ``DataError`` that names the file and what is wrong with it, because a
half-read evaluation set gives numbers that look plausible and mean nothing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.eval.squad import DataError, Dataset, Example, read_json, read_squad
from qa.types import Document, Meta


@dataclass
class BeirData:
    """A BEIR retrieval set: the corpus as documents, the queries that have judgments, and the
    graded judgments themselves (``qrels[query_id][doc_id] = relevance``)."""

    path: Path
    documents: list[Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    split: str = "test"
    kind: str = "beir"


def load_dataset(
    path: str | Path, articles: set[str] | None = None, split: str = "test"
) -> Dataset | BeirData:
    """Read ``path`` by its shape: a folder is BEIR, ``.jsonl`` is ours, ``.json`` is SQuAD.
    ``articles`` (SQuAD only) keeps the articles with those titles."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_dir():
        return read_beir(path, split)
    if articles is not None and path.suffix != ".json":
        raise DataError("--articles selects SQuAD articles; it needs a SQuAD .json file")
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    if path.suffix == ".json":
        return read_squad(path, articles)
    raise DataError(
        f"{path}: unknown format; expected SQuAD .json, our .jsonl or a BEIR folder "
        "(corpus.jsonl, queries.jsonl, qrels/)"
    )


# -- our jsonl -------------------------------------------------------------------------------------


def read_jsonl(path: str | Path) -> Dataset:
    """Our format, one object a line: ``id``, ``question``, ``answers`` (any one is right; empty:
    the documents do not answer) and ``docs`` (the gold document ids)."""
    path = Path(path)
    examples: list[Example] = []
    ids: set[str] = set()
    for n, record in _jsonl_records(path):
        where = f"{path}:{n}"
        question, answers = record.get("question"), record.get("answers", [])
        docs = record.get("docs", [])
        if not isinstance(question, str) or not question.strip():
            raise DataError(f"{where}: 'question' must be a non-empty string")
        for name, value in (("answers", answers), ("docs", docs)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise DataError(f"{where}: {name!r} must be a list of strings")
        qid = str(record.get("id", n))
        if qid in ids:
            raise DataError(f"{where}: duplicate id {qid!r}")
        ids.add(qid)
        examples.append(Example(qid, question, list(answers), list(docs)))
    if not examples:
        raise DataError(f"{path}: no questions")
    return Dataset("jsonl", path, examples)


# -- BEIR ------------------------------------------------------------------------------------------


def read_beir(directory: str | Path, split: str = "test") -> BeirData:
    """BEIR's layout: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``,
    ``text``), ``qrels/<split>.tsv`` (query-id, corpus-id, score). Title and text together are the
    document text, as BEIR's own baselines index them."""
    directory = Path(directory)
    corpus, queries_file = directory / "corpus.jsonl", directory / "queries.jsonl"
    qrels_file = directory / "qrels" / f"{split}.tsv"
    for needed in (corpus, queries_file, qrels_file):
        if not needed.is_file():
            raise DataError(
                f"{directory}: not a BEIR folder (missing {needed.relative_to(directory)})"
            )
    documents: list[Document] = []
    for n, record in _jsonl_records(corpus):
        doc_id, text = record.get("_id"), record.get("text")
        if doc_id is None or not isinstance(text, str):
            raise DataError(f"{corpus}:{n}: a corpus record needs '_id' and 'text'")
        title = str(record.get("title") or "").strip()
        documents.append(
            Document(id=str(doc_id), text=f"{title}\n\n{text}" if title else text, meta=Meta(title))
        )
    qrels = _read_qrels(qrels_file)
    all_queries: dict[str, str] = {}
    for n, record in _jsonl_records(queries_file):
        if record.get("_id") is None or not isinstance(record.get("text"), str):
            raise DataError(f"{queries_file}:{n}: a query needs '_id' and 'text'")
        all_queries[str(record["_id"])] = record["text"]
    missing = [q for q in qrels if q not in all_queries]
    if missing:
        raise DataError(
            f"{qrels_file}: {len(missing)} judged queries are not in queries.jsonl, "
            f"e.g. {missing[0]!r}"
        )
    queries = {q: all_queries[q] for q in qrels}
    if not documents or not queries:
        raise DataError(f"{directory}: empty corpus or no judged queries")
    return BeirData(directory, documents, queries, qrels, split)


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f, delimiter="\t"), 1):
            if not row or (n == 1 and row[0] == "query-id"):
                continue
            try:
                qid, doc_id, score = row[0], row[1], int(row[2])
            except (IndexError, ValueError):
                raise DataError(
                    f"{path}:{n}: expected 'query-id<TAB>corpus-id<TAB>score'"
                ) from None
            if score > 0:  # BEIR counts only positive judgments as relevant
                qrels.setdefault(qid, {})[doc_id] = score
    return qrels


# -- article selection -----------------------------------------------------------------------------

#: keys tried, in order, when a split file is given without ``:KEY``
SPLIT_KEYS = ("heldout", "held_out", "test", "eval", "dev")


def read_article_selection(spec: str) -> set[str]:
    """Titles from ``FILE`` or ``FILE:KEY``: a JSON list of titles, or an object whose ``KEY``
    (default: the first of "heldout", "test", ...) holds such a list (a reader's split.json)."""
    path, key = Path(spec), None
    if not path.exists() and ":" in spec:
        head, _, key = spec.rpartition(":")
        path = Path(head)
    raw = read_json(path)
    if isinstance(raw, dict):
        if key is None:
            key = next((k for k in SPLIT_KEYS if k in raw), None)
            if key is None:
                raise DataError(
                    f"{path}: name the list of titles to use as {path}:KEY "
                    f"(keys: {', '.join(sorted(map(str, raw)))})"
                )
        if key not in raw:
            raise DataError(f"{path}: no key {key!r} (keys: {', '.join(sorted(map(str, raw)))})")
        raw = raw[key]
    elif key is not None:
        raise DataError(f"{path}: a list of titles has no key {key!r}")
    if not isinstance(raw, list) or not raw or not all(isinstance(t, str) for t in raw):
        raise DataError(f"{path}: expected a non-empty JSON list of article titles")
    return set(raw)


# -- helpers ---------------------------------------------------------------------------------------


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line."""
    try:
        f = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    with f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{n}: expected a JSON object")
            yield n, record
