"""One error shape for every failure: ``{"error": {"code", "message"}}`` with the right status.

Library errors (``QAError``) carry their own code and status; Werkzeug's HTTP errors (404, 405,
413, ...) keep theirs; anything else is logged and answered as a 500 without leaking internals.
A library error of the server's own making (5xx) is answered with a fixed sentence too: its
message names server paths and database addresses, which belong in the log. The store being
unreachable is the exception: a 503 with ``Retry-After`` whose message is written for clients.
Browsers asking for a page get the same message as a small HTML page instead of JSON.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from qa.errors import QAError, StoreUnavailable
from qa.types import LoadProblem

log = logging.getLogger(__name__)

#: stable machine-readable codes for the HTTP errors Werkzeug raises
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    431: "head_too_large",
    501: "not_implemented",
    503: "unavailable",
}

#: what a client is told of a library error of the server's own making (the log has the details)
SERVER_FAULT = "the index cannot be used as it is; the server log says why"


class ApiError(Exception):
    """An error raised by the HTTP layer itself (validation, auth, overload)."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        problems: list[LoadProblem] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or HTTP_CODES.get(status, "error")
        self.message = message
        self.headers = headers or {}
        #: the files or records a refused write was refused for, one by one, so a client (the
        #: "Add documents" page) can list them without parsing the message
        self.problems = problems


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    problems: list[LoadProblem] | None = None,
) -> Response:
    if _wants_html():
        response = Response(
            render_template("error.html", status=status, code=code, message=message),
            status=status,
            mimetype="text/html",
        )
    else:
        error: dict[str, Any] = {"code": code, "message": message}
        if problems:
            error["problems"] = [p.to_dict() for p in problems]
        response = jsonify({"error": error})
        response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def store_unavailable(exc: StoreUnavailable) -> Response:
    """503 with ``Retry-After``; one log line, not a traceback per request of an outage."""
    log.warning("%s %s: %s (%s)", request.method, request.path, exc, exc.__cause__ or "no cause")
    return error_response(exc.status, exc.code, str(exc), {"Retry-After": str(exc.retry_after)})


def _wants_html() -> bool:
    """Pages (not ``/api``, ``/healthz``, ...) requested by a browser get HTML errors."""
    path = request.path
    if path.startswith(("/api/", "/healthz", "/metrics", "/openapi")) or path == "/api":
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.headers, exc.problems)

    @app.errorhandler(QAError)
    def _qa_error(exc: QAError) -> Response:
        if isinstance(exc, StoreUnavailable):
            return store_unavailable(exc)
        if exc.status >= 500:
            log.exception("library error on %s %s", request.method, request.path)
            return error_response(exc.status, exc.code, SERVER_FAULT)
        return error_response(exc.status, exc.code, str(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers: dict[str, str] = {}
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        message = _http_message(status, exc)
        return error_response(status, HTTP_CODES.get(status, "error"), message, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error; see the server log")


def _http_message(status: int, exc: HTTPException) -> str:
    if status == 404:
        return f"no such resource: {request.path}"
    if status == 405:
        return f"method {request.method} not allowed on {request.path}"
    if status == 413:
        limit: Any = request.max_content_length
        return f"request body too large (limit {limit} bytes)"
    return str(exc.description or exc.name)
