"""Read articles from disk (or JSON records) into :class:`~qa.types.Document`.

Formats: ``.txt`` and ``.md`` (one article per file, the file stem is its id), ``.html``/``.htm``
(the article trafilatura finds on the page, see :mod:`qa.ingest.loaders.web`), ``.pdf`` (pypdf,
pages kept: :mod:`qa.text.pages`), ``.docx`` (python-docx), ``.jsonl`` (one article per line:
``id``, ``text``, optional ``title``, ``source``, ``date``, ``url``).

A corpus is whatever a user points at, so nothing in it may stop a run: every file or line that
cannot be used becomes a :class:`~qa.types.LoadProblem` naming it and saying why, and loading goes
on. Text is kept exactly as decoded (no newline or whitespace normalization) because every offset
the service returns must slice the file as it is on disk; for extracted formats (HTML, PDF, Word)
the offsets point into the extracted text instead, which is what the index stores. Only plain text
goes through our line cleaner (:mod:`qa.ingest.clean`): extractors already leave page furniture out.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qa.errors import BadInput
from qa.ingest.clean import content_regions
from qa.ingest.loaders import Extracted, ExtractError
from qa.ingest.metadata import MAX_TITLE_CHARS, extract_metadata, parse_date
from qa.text.validate import json_unicode_problem
from qa.types import Document, LoadProblem, Meta

TEXT_SUFFIXES = frozenset({".txt", ".md"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
PDF_SUFFIXES = frozenset({".pdf"})
WORD_SUFFIXES = frozenset({".docx"})
JSONL_SUFFIXES = frozenset({".jsonl"})
#: formats whose text a library extracts (offsets point into that text, not the file)
EXTRACTED_SUFFIXES = HTML_SUFFIXES | PDF_SUFFIXES | WORD_SUFFIXES
SUFFIXES = TEXT_SUFFIXES | EXTRACTED_SUFFIXES | JSONL_SUFFIXES
MAX_ID_CHARS = 200
RECORD_FIELDS = ("id", "text", "title", "source", "date", "url")


class LoadError(BadInput):
    """A file or record that cannot become a document; the message says why."""


# -- ids and records ------------------------------------------------------------------------------


def id_problem(doc_id: str) -> str | None:
    """Why ``doc_id`` cannot name a document, or None. '#' is reserved: it separates a document id
    from a chunk number in chunk ids; '/' would make ids look like paths in URLs."""
    if not doc_id:
        return "empty document id"
    if len(doc_id) > MAX_ID_CHARS:
        return f"document id longer than {MAX_ID_CHARS} characters"
    if doc_id != doc_id.strip():
        return f"document id {doc_id!r} starts or ends with whitespace"
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in doc_id):
        return f"document id {doc_id!r} contains control characters"
    if "/" in doc_id or "#" in doc_id or "\\" in doc_id:
        return f"document id {doc_id!r} contains '/', '\\' or '#'"
    if not doc_id.strip("."):  # '.' and '..' are path segments: a URL with them names another page
        return f"document id {doc_id!r} is only dots"
    return None


def _check_id(doc_id: str) -> str:
    if reason := id_problem(doc_id):
        raise LoadError(reason)
    return doc_id


def _optional_str(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise LoadError(f"field {key!r} must be a string, not {type(value).__name__}")
    return value.strip() or None


def _make_document(
    doc_id: str,
    text: str,
    path: str | None,
    stated: Meta,
    *,
    author: str | None = None,
    clean: bool = True,
) -> Document:
    """Clean (unless an extractor already did) and fill in from the text itself what ``stated``
    (the file's or the record's own metadata) leaves empty."""
    content = content_regions(text) if clean else [(0, len(text))]
    if not content:
        raise LoadError("no article text: every line looks like page boilerplate")
    found = extract_metadata(text, content, path)
    meta = Meta(
        title=(stated.title or found["title"] or doc_id)[:MAX_TITLE_CHARS],
        source=stated.source or found["source"],
        date=stated.date or found["date"],
        url=stated.url,
        path=path,
    )
    return Document(id=doc_id, text=text, meta=meta, content=content, author=author)


def _extracted_document(doc_id: str, found: Extracted, path: str) -> Document:
    return _make_document(doc_id, found.text, path, found.meta, author=found.author, clean=False)


def _record_document(record: Any, path: str | None) -> Document:
    """One JSON record (a jsonl line or an API payload item) as a document."""
    if not isinstance(record, dict):
        raise LoadError(f"expected a JSON object, got {type(record).__name__}")
    for key in ("id", "text"):
        if key not in record or record[key] is None:
            raise LoadError(f"missing field {key!r}")
        if not isinstance(record[key], str):
            raise LoadError(f"field {key!r} must be a string, not {type(record[key]).__name__}")
    doc_id = _check_id(record["id"])
    text: str = record["text"]
    if not text.strip():
        raise LoadError("field 'text' is empty")
    raw_date = _optional_str(record, "date")
    date = parse_date(raw_date) if raw_date else None
    if raw_date and not date:
        raise LoadError(f"field 'date' is not a date: {raw_date!r} (expected YYYY-MM-DD)")
    stated = Meta(
        title=_optional_str(record, "title") or "",
        source=_optional_str(record, "source"),
        date=date,
        url=_optional_str(record, "url"),
    )
    return _make_document(doc_id, text, path, stated)


Located = list[tuple[Document, str]]  # a document and where it came from, for reports


def _dedupe(found: Located) -> tuple[list[Document], list[LoadProblem]]:
    """Keep the first document of each id and report the others where they were found."""
    first: dict[str, str] = {}
    kept: list[Document] = []
    problems: list[LoadProblem] = []
    for doc, location in found:
        if doc.id in first:
            problems.append(
                LoadProblem(location, f"duplicate document id {doc.id!r} (kept {first[doc.id]})")
            )
            continue
        first[doc.id] = location
        kept.append(doc)
    return kept, problems


def documents_from_records(
    records: Iterable[dict[str, Any]], origin: str = "<input>"
) -> tuple[list[Document], list[LoadProblem]]:
    """Documents from JSON objects sent by a client, validated like jsonl lines. Problems are
    located as ``origin[INDEX]`` (0-based, as in the JSON array); duplicate ids keep the first."""
    found: Located = []
    problems: list[LoadProblem] = []
    for index, record in enumerate(records):
        location = f"{origin}[{index}]"
        try:
            found.append((_record_document(record, None), location))
        except LoadError as exc:
            problems.append(LoadProblem(location, str(exc)))
    kept, duplicates = _dedupe(found)
    return kept, problems + duplicates


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# -- files ----------------------------------------------------------------------------------------


def size_problem(size: int | None, limit: int) -> str:
    """Why a file of ``size`` bytes (None: more than ``limit``) is refused."""
    size_text = f"{size:,} bytes" if size is not None else f"over {limit:,} bytes"
    return (
        f"file of {size_text}; the limit is {limit:,} (QA_MAX_FILE_BYTES): split it into smaller "
        "files"
    )


def _read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes, or a LoadError saying why not. A file over ``limit`` bytes is refused by
    its size before any of it is read; one that says it is smaller (a pipe, a file still growing)
    is refused after ``limit + 1`` bytes."""
    try:
        with path.open("rb") as f:
            if limit is None:
                return f.read()
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                raise LoadError(size_problem(size, limit))
            data = f.read(limit + 1)
            if len(data) > limit:
                raise LoadError(size_problem(None, limit))
            return data
    except PermissionError:
        raise LoadError("cannot read: permission denied") from None
    except IsADirectoryError:
        raise LoadError("is a directory") from None
    except OSError as exc:
        raise LoadError(f"cannot read: {exc.strerror or exc}") from None


def _decode(data: bytes) -> str:
    """The bytes decoded as UTF-8 (a BOM is dropped), or a LoadError saying why not."""
    encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"not UTF-8 text (undecodable byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    if "\x00" in text:
        raise LoadError("binary file (contains NUL bytes), not text")
    if not text.strip():
        raise LoadError("no text (only whitespace)")
    return text


def _check_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        expected = ", ".join(sorted(SUFFIXES))
        raise LoadError(f"unsupported file type {suffix or '(none)'!r} (expected {expected})")
    return suffix


def _extract(suffix: str, data: bytes) -> Extracted:
    """Text and metadata of a format that needs a library to read it."""
    try:
        if suffix in PDF_SUFFIXES:
            from qa.ingest.loaders.pdf import extract_pdf

            return extract_pdf(data)
        if suffix in WORD_SUFFIXES:
            from qa.ingest.loaders.word import extract_docx

            return extract_docx(data)
        from qa.ingest.loaders.web import extract_web_page

        return extract_web_page(_decode(data))
    except ExtractError as exc:
        raise LoadError(str(exc)) from None


def _load(
    path: Path, shown: str, max_bytes: int | None = None
) -> tuple[Located, list[LoadProblem]]:
    """Documents of one file plus the problems of its lines (jsonl); a LoadError when the file as
    a whole cannot be used. ``shown`` is the path as the user gave it."""
    _check_suffix(path.name)
    return _load_data(path.name, _read_bytes(path, max_bytes), shown)


def _load_data(name: str, data: bytes, shown: str) -> tuple[Located, list[LoadProblem]]:
    """Documents of a file's bytes; ``name`` (the file name) gives its format and id."""
    suffix = _check_suffix(name)
    if not data:
        raise LoadError("empty file")
    if suffix in JSONL_SUFFIXES:
        return _load_jsonl(_decode(data), shown)
    doc_id = _check_id(Path(name).stem)
    if suffix in EXTRACTED_SUFFIXES:
        return [(_extracted_document(doc_id, _extract(suffix, data), shown), shown)], []
    return [(_make_document(doc_id, _decode(data), shown, Meta()), shown)], []


def _load_jsonl(text: str, shown: str) -> tuple[Located, list[LoadProblem]]:
    """One document per non-blank line; a bad line is a problem located ``path:LINE``."""
    found: Located = []
    problems: list[LoadProblem] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        location = f"{shown}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(LoadProblem(location, f"bad JSON: {exc.msg} (column {exc.colno})"))
            continue
        if problem := json_unicode_problem(record):  # a "\ud800" escape decodes to no text
            problems.append(LoadProblem(location, problem))
            continue
        try:
            found.append((_record_document(record, shown), location))
        except LoadError as exc:
            problems.append(LoadProblem(location, str(exc)))
    return found, problems


def load_file(path: Path, max_file_bytes: int | None = None) -> list[Document]:
    """The documents of one file, all or nothing: a LoadError (a ValueError) names the first
    reason it cannot be used, including a bad jsonl line or a size over ``max_file_bytes``."""
    path = Path(path)
    found, problems = _load(path, str(path), max_file_bytes)
    docs, duplicates = _dedupe(found)
    problems += duplicates
    if problems:
        raise LoadError(f"{problems[0].path}: {problems[0].reason}")
    return docs


def _walk(directory: Path) -> list[Path]:
    """Supported files under ``directory``, recursively, sorted; hidden files and folders are
    skipped (editor backups, .git), as are files of other types."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in SUFFIXES:
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(directory).parts)


def load_documents(
    paths: Iterable[str | Path], max_file_bytes: int | None = None
) -> tuple[list[Document], list[LoadProblem]]:
    """Every document under ``paths`` (files or folders) and a problem for each file or line that
    could not be used. An id seen twice keeps its first document. A file over ``max_file_bytes``
    is a problem found by its size: none of it is read."""
    if isinstance(paths, (str, Path)):  # one path, not an iterable of its characters
        paths = [paths]
    found: Located = []
    problems: list[LoadProblem] = []
    for given in paths:
        root = Path(given)
        if root.is_dir():
            files = _walk(root)
        elif root.exists():
            files = [root]
        else:
            problems.append(LoadProblem(str(given), "no such file or directory"))
            continue
        for file in files:
            shown = str(given) if file == root else str(file)
            try:
                docs, line_problems = _load(file, shown, max_file_bytes)
            except LoadError as exc:
                problems.append(LoadProblem(shown, str(exc)))
                continue
            found.extend(docs)
            problems.extend(line_problems)
    kept, duplicates = _dedupe(found)
    return kept, problems + duplicates
