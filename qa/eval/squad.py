"""SQuAD v1.1/v2.0 JSON, read once for evaluation and training into typed records: each
paragraph becomes a document ``<article-slug>-p<N>`` and each question an ``Example``.

Reading fails with a ``DataError`` that names the file and what is wrong with it, because a
half-read evaluation set gives numbers that look plausible and mean nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qa.types import Document, Meta


class DataError(ValueError):
    """The evaluation data cannot be read as the format it claims to be."""


@dataclass
class Example:
    """One question with its gold answers (empty: the documents do not answer it). Scoring
    compares with every gold text; training learns from ``spans``, the answers whose stated
    offsets point at them in ``context``."""

    id: str
    question: str
    answers: list[str]
    gold_docs: list[str] = field(default_factory=list)
    title: str = ""  # SQuAD: the article's title as the file writes it ("Fresno,_California")
    context: str = ""  # SQuAD: the question's own paragraph (gold passage, training)
    starts: list[int] = field(default_factory=list)  # SQuAD: each answer's offset in context

    @property
    def answerable(self) -> bool:
        return bool(self.answers)

    @property
    def spans(self) -> list[tuple[str, int]]:
        """(text, start) of each answer found where the file says it starts."""
        return [
            (text, start)
            for text, start in zip(self.answers, self.starts, strict=False)
            if start >= 0 and self.context[start : start + len(text)] == text
        ]


@dataclass
class Dataset:
    """Questions to ask, and for SQuAD the paragraphs (as documents) they are asked over.

    ``kind`` is ``"squad"`` or ``"jsonl"``; jsonl questions are asked of an existing index, so
    ``documents`` is empty for them."""

    kind: str
    path: Path
    examples: list[Example]
    documents: list[Document] = field(default_factory=list)
    version: str = ""


def slug(title: str) -> str:
    """A document-id-friendly form of an article title ("Jacksonville,_Florida" ->
    "jacksonville-florida")."""
    return re.sub(r"[\W_]+", "-", title.casefold()).strip("-") or "article"


def same_title(title: str) -> str:
    """Titles compare without case and with underscores as spaces, as SQuAD writes them."""
    return " ".join(title.replace("_", " ").casefold().split())


def read_squad(path: str | Path, articles: set[str] | None = None) -> Dataset:
    """SQuAD v1.1 or v2.0: each paragraph becomes a document ``<article-slug>-p<N>`` titled with
    its article; each question keeps its answers (none when ``is_impossible``)."""
    path = Path(path)
    raw = read_json(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise DataError(f"{path}: not SQuAD JSON (expected an object with a 'data' list)")
    wanted = {same_title(t) for t in articles} if articles is not None else None
    examples: list[Example] = []
    documents: list[Document] = []
    used: set[str] = set()
    seen_titles: set[str] = set()
    for a, article in enumerate(raw["data"]):
        where = f"{path}: data[{a}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise DataError(f"{where}: an article needs a 'paragraphs' list")
        raw_title = str(article.get("title") or f"article {a}")
        seen_titles.add(same_title(raw_title))
        if wanted is not None and same_title(raw_title) not in wanted:
            continue
        title = raw_title.replace("_", " ")
        base = slug(raw_title)
        while base in used:  # two articles whose titles slug alike still get distinct ids
            base += "-x"
        used.add(base)
        for p, para in enumerate(article["paragraphs"]):
            if not isinstance(para, dict) or not isinstance(para.get("context"), str):
                raise DataError(f"{where}.paragraphs[{p}]: a paragraph needs a 'context' string")
            doc_id = f"{base}-p{p}"
            documents.append(Document(id=doc_id, text=para["context"], meta=Meta(title=title)))
            for q, qa in enumerate(para.get("qas") or []):
                examples.append(
                    _squad_example(
                        qa, doc_id, raw_title, para["context"], f"{where}.paragraphs[{p}].qas[{q}]"
                    )
                )
    if wanted is not None:
        missing = wanted - seen_titles
        if len(missing) == len(wanted):
            raise DataError(f"{path}: none of the {len(wanted)} selected articles is in it")
    if not examples:
        raise DataError(f"{path}: no questions")
    return Dataset("squad", path, examples, documents, str(raw.get("version") or ""))


def out_of_corpus(selected: Dataset, whole: Dataset) -> Dataset:
    """The answerable questions of ``selected``, asked of the documents of ``whole`` that are not
    in ``selected``: nothing indexed answers them, so each one's right output is no answer. The
    service meets such questions daily (about events its archive does not cover), and they are
    not SQuAD 2.0's adversarial kind: the passages retrieved are only vaguely on topic."""
    mine = {d.id for d in selected.documents}
    examples = [
        replace(ex, id=f"ooc-{ex.id}", answers=[], gold_docs=[], context="", starts=[])
        for ex in selected.examples
        if ex.answerable
    ]
    documents = [d for d in whole.documents if d.id not in mine]
    if not documents:
        raise DataError(f"{whole.path}: no other articles to make an out-of-corpus index of")
    return Dataset(selected.kind, selected.path, examples, documents, selected.version)


def _squad_example(qa: Any, doc_id: str, title: str, context: str, where: str) -> Example:
    if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
        raise DataError(f"{where}: a question needs a 'question' string")
    answers = qa.get("answers") or []
    if not isinstance(answers, list):
        raise DataError(f"{where}: 'answers' must be a list")
    texts, starts = [], []
    if not qa.get("is_impossible", False):
        for ans in answers:
            if not isinstance(ans, dict) or not isinstance(ans.get("text"), str):
                raise DataError(f"{where}: each answer needs a 'text' string")
            texts.append(ans["text"])
            start = ans.get("answer_start")
            starts.append(start if isinstance(start, int) and not isinstance(start, bool) else -1)
    return Example(
        id=str(qa.get("id") or where),
        question=qa["question"],
        answers=texts,
        gold_docs=[doc_id],
        title=title,
        context=context,
        starts=starts,
    )


def read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a JSON file") from None
