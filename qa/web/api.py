"""The JSON API under ``/api`` (documented in ``openapi.yaml``, served at ``/openapi.json``)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from qa.index.chunk import split_oversized
from qa.text.validate import json_unicode_problem
from qa.types import Document, LoadProblem, Result
from qa.web.auth import require_token
from qa.web.context import state
from qa.web.errors import ApiError

bp = Blueprint("api", __name__, url_prefix="/api")

ASK_FIELDS = frozenset({"question", "top_k", "filters"})
BATCH_FIELDS = frozenset({"questions", "top_k", "filters"})
#: bytes an uploaded file is copied by
UPLOAD_BLOCK = 1024 * 1024


# -- reading -------------------------------------------------------------------------------------


@bp.post("/ask")
def ask() -> Response:
    body = _json_object(ASK_FIELDS)
    if "question" not in body:
        raise ApiError(400, "missing field 'question'")
    web = state()
    top_k = _integral(body.get("top_k"))
    result = web.run(web.service.ask, body["question"], top_k, body.get("filters"))
    _observe(result)
    return _answer(result.to_dict())


@bp.post("/ask/batch")
def ask_batch() -> Response:
    body = _json_object(BATCH_FIELDS)
    questions = body.get("questions")
    if not isinstance(questions, list):
        raise ApiError(400, "field 'questions' must be a list of strings")
    web = state()
    top_k = _integral(body.get("top_k"))
    _check_batch_work(len(questions), top_k)
    results = web.run(web.service.ask_batch, questions, top_k, body.get("filters"))
    for result in results:
        _observe(result)
    return _answer({"results": [r.to_dict() for r in results]})


def _check_batch_work(questions: int, top_k: Any) -> None:
    """413 for a batch that would read more than ``max_batch_passages`` passages: the reader's
    work grows with questions x passages, and one request must not hold a worker for minutes."""
    settings = state().settings
    given = isinstance(top_k, int) and not isinstance(top_k, bool)
    k = top_k if given else settings.retrieval.top_k
    if not 1 <= k <= settings.limits.max_top_k:
        return  # the library answers a bad top_k with its own 400
    if questions * k > settings.limits.max_batch_passages:
        raise ApiError(
            413,
            f"this batch would read {questions} x {k} = {questions * k} passages; the limit is "
            f"{settings.limits.max_batch_passages} (QA_MAX_BATCH_PASSAGES): send fewer questions "
            "per request or a smaller top_k",
        )


@bp.get("/search")
def search() -> Response:
    query = request.args.get("q")
    if query is None:
        raise ApiError(400, "missing query parameter 'q'")
    top_k = _int_arg("top_k")
    filters = _query_filters()
    web = state()
    passages = web.run(web.service.search, query, top_k, filters)
    return _answer({"query": query.strip(), "passages": [p.to_dict() for p in passages]})


@bp.get("/documents")
def list_documents() -> Response:
    web = state()
    return _answer({"documents": [d.to_dict() for d in web.service.documents()]})


@bp.get("/documents/<doc_id>")
def get_document(doc_id: str) -> Response:
    doc, info = state().service.document(doc_id)
    return _answer(info.to_dict() | {"text": doc.text, "content": [list(r) for r in doc.content]})


# -- writing -------------------------------------------------------------------------------------


@bp.post("/documents")
def add_documents() -> Response:
    """Add or replace articles sent as JSON records or uploaded files. A request is accepted or
    rejected whole: every record and file is parsed before anything is written, and the library
    writes each batch in one transaction, so a failure leaves the index as it was."""
    _require_token()
    web = state()
    if request.is_json:
        body = _json_object(frozenset({"documents"}))
        records = body.get("documents")
        if not isinstance(records, list) or not records:
            raise ApiError(400, "field 'documents' must be a non-empty list of objects")
        docs = _refuse_oversized(_documents_from_records(records))
        report = web.run(web.service.add_documents, docs)
    elif request.mimetype == "multipart/form-data":
        report = _add_uploads()
    else:
        raise ApiError(415, "send JSON (application/json) records or files as multipart/form-data")
    return jsonify(report.to_dict())


@bp.delete("/documents/<doc_id>")
def delete_document(doc_id: str) -> Response:
    _require_token()
    web = state()
    chunks = web.run(web.service.delete, doc_id)
    return jsonify({"deleted": doc_id, "chunks": chunks})


def _documents_from_records(records: list[Any]) -> list[Document]:
    from qa.ingest.load import documents_from_records

    docs, problems = documents_from_records(records, origin="documents")
    if problems:
        raise _refused(400, problems)
    return docs


def _refuse_oversized(docs: list[Document]) -> list[Document]:
    docs, too_long = split_oversized(docs, state().settings.limits.max_document_chars)
    if too_long:
        raise _refused(413, too_long)
    return docs


def _refused(status: int, problems: list[LoadProblem]) -> ApiError:
    """A write refused whole for these files or records: each named in the message, and listed
    on their own too."""
    described = "; ".join(f"{p.path}: {p.reason}" for p in problems)
    return ApiError(status, f"nothing was added; {described}", problems=problems)


def _add_uploads() -> Any:
    from qa.ingest.load import load_documents

    uploads = [f for name in request.files for f in request.files.getlist(name)]
    if not uploads:
        raise ApiError(400, "no files in the upload")
    web = state()
    limit = web.settings.limits.max_file_bytes
    with tempfile.TemporaryDirectory(prefix="qa-upload-") as tmp:
        names: dict[Path, str] = {}
        for upload in uploads:
            original = upload.filename or ""
            name = secure_filename(original)
            if not name:
                raise ApiError(400, f"unusable file name: {original!r}")
            path = Path(tmp) / name
            if path in names:
                raise ApiError(400, f"file {name!r} sent twice")
            _save_upload(upload, path, original, limit)
            names[path] = original
        docs, problems = load_documents(list(names), max_file_bytes=limit)
        if problems:
            for problem in problems:  # name files as the client did, never the temporary folder
                problem.path = _as_sent(problem.path, names, tmp)
                problem.reason = _as_sent(problem.reason, names, tmp)
            raise _refused(400, problems)
        for doc in docs:
            # the temporary path means nothing once the request ends; keep what the client sent
            if doc.path:
                doc.path = names.get(Path(doc.path), Path(doc.path).name)
        return web.run(web.service.add_documents, _refuse_oversized(docs))


def _as_sent(text: str, names: dict[Path, str], tmp: str) -> str:
    """``text`` (a problem's location or reason) with every saved file's path replaced by the
    name the client sent, and anything else under the temporary folder by its file name."""
    for path in sorted(names, key=lambda p: len(str(p)), reverse=True):
        text = text.replace(str(path), names[path])
    return text.replace(tmp + os.sep, "").replace(tmp, "")


def _save_upload(upload: FileStorage, path: Path, original: str, limit: int) -> None:
    """Copy an uploaded file to ``path`` a block at a time, counting: past ``limit`` bytes the
    upload is refused (413) naming the file, and the rest of it is never read."""
    from qa.ingest.load import size_problem

    size = _stream_size(upload.stream)
    if size is not None and size > limit:
        raise _refused(413, [LoadProblem(original, size_problem(size, limit))])
    copied = 0
    with path.open("wb") as out:
        while block := upload.stream.read(UPLOAD_BLOCK):
            copied += len(block)
            if copied > limit:
                raise _refused(413, [LoadProblem(original, size_problem(None, limit))])
            out.write(block)


def _stream_size(stream: Any) -> int | None:
    """The size of a spooled upload (to memory or a temporary file), without reading it."""
    try:
        size = int(stream.seek(0, os.SEEK_END))
        stream.seek(0)
    except (AttributeError, OSError, ValueError):
        return None
    return size


def _require_token() -> None:
    """Writes are rate-limited per client before the token is checked, so guessing tokens is
    rate-limited too."""
    web = state()
    wait = web.writes.acquire(request.remote_addr or "")
    if wait > 0:
        raise ApiError(
            429,
            f"too many writes; the limit is {web.settings.server.writes_per_minute:g} a minute "
            "(QA_WRITES_PER_MINUTE)",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    require_token(web.settings.server.api_token)


# -- responses -----------------------------------------------------------------------------------


def _answer(body: dict[str, Any]) -> Response:
    """``body`` as JSON, each document's ``path`` cut to its file name: documents indexed from
    the server's corpus were found at a path on the server, which is no business of a client."""
    return jsonify(_file_names(body))


def _file_names(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: Path(v).name if k == "path" and isinstance(v, str) else _file_names(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_file_names(v) for v in value]
    return value


# -- request parsing -----------------------------------------------------------------------------


def _json_object(allowed: frozenset[str]) -> dict[str, Any]:
    """The body as a JSON object with only known fields (a typo should not be silently ignored)."""
    if not request.is_json:
        raise ApiError(415, "send a JSON body with 'Content-Type: application/json'")
    raw = _body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from exc
    except RecursionError:
        raise ApiError(400, "malformed JSON: nested too deeply") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the JSON body must be an object")
    if problem := json_unicode_problem(body):
        raise ApiError(400, problem)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"unknown fields {unknown}; expected some of {sorted(allowed)}")
    return body


def _body() -> bytes:
    """The request body, or 413 past ``MAX_CONTENT_LENGTH``. Werkzeug refuses a declared
    Content-Length over the limit, but a chunked body is only cut off at the limit; a body that
    fills it may have had more behind it, and parsing the truncated part would blame the JSON."""
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        raise ApiError(413, f"request body too large (limit {limit} bytes)")
    return raw


def _integral(value: Any) -> Any:
    """JSON has one number type: 5.0 is the integer 5 (as JSON Schema says), 5.5 is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter {name!r} must be an integer") from None


def _query_filters() -> dict[str, Any] | None:
    filters: dict[str, Any] = {}
    for param, key in (("doc_id", "doc_ids"), ("source", "sources")):
        values = request.args.getlist(param)
        if values:
            filters[key] = values
    for key in ("date_from", "date_to"):
        if key in request.args:  # an empty value is a bad date, not an absent one
            filters[key] = request.args[key]
    return filters or None


def _observe(result: Result) -> None:
    state().metrics.observe_result(result.timings_ms, result.answer is not None)
