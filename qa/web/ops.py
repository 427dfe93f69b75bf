"""Operational endpoints: ``/healthz``, ``/metrics``, the OpenAPI spec and the favicon."""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, current_app, jsonify, send_from_directory

from qa.errors import QAError, StoreUnavailable
from qa.web.auth import require_token
from qa.web.context import state
from qa.web.errors import SERVER_FAULT

log = logging.getLogger(__name__)

bp = Blueprint("ops", __name__)

SPEC_PATH = Path(__file__).with_name("openapi.yaml")


@functools.cache
def openapi_spec() -> dict[str, Any]:
    """The spec, kept as YAML for people and served as JSON for tools."""
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Readiness: 200 when the index opens and answers a count; 503 when it does not
    (``store_unavailable``, with ``Retry-After``, while the store cannot be reached), so a load
    balancer stops sending questions to a worker that cannot answer them."""
    try:
        health = state().service.health()
    except StoreUnavailable as exc:
        log.warning("not ready: %s (%s)", exc, exc.__cause__ or "no cause")
        return _not_ready("unavailable", exc.code, str(exc), exc.retry_after)
    except Exception as exc:  # any failure here means "not ready", never a 500
        log.warning("health check failed: %s: %s", type(exc).__name__, exc)
        code = exc.code if isinstance(exc, QAError) else "index_error"
        return _not_ready("error", code, SERVER_FAULT)
    public = {k: _without_paths(v) for k, v in health.items() if k != "index_dir"}
    return jsonify(public | {"live": True, "ready": True}), 200


@bp.get("/healthz/live")
def liveness() -> Response:
    """Liveness: this worker answers HTTP. It reads nothing, so a store outage (which restarting
    the worker would not cure) never fails it; readiness is ``/healthz``."""
    return jsonify({"status": "ok", "live": True})


def _not_ready(
    status: str, code: str, message: str, retry_after: int | None = None
) -> tuple[Response, int]:
    error = {"code": code, "message": message}
    response = jsonify({"status": status, "live": True, "ready": False, "error": error})
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response, 503


def _without_paths(value: Any) -> Any:
    """A model named by where it lies on the server (``transformer:/srv/.../models/reader``) as
    its last two path parts (``transformer:models/reader``): what it is, not where."""
    if not isinstance(value, str):
        return value
    return re.sub(r"(?<![\w.])/(?:[^/\s:]+/)*([^/\s:]+/[^/\s:]+)", r"\1", value)


@bp.get("/metrics")
def metrics() -> Response:
    """Open when the server has no API token (a private deployment); otherwise the scraper
    sends the token like a writer, as the counts reveal traffic and errors."""
    web = state()
    if web.settings.server.api_token:
        require_token(web.settings.server.api_token, "metrics")
    body, content_type = web.metrics.render()
    return Response(body, content_type=content_type)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_spec())


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it on every page they show without a ``<link rel="icon">`` (JSON
    errors, the spec): the same icon the pages link, not a 404 in every log."""
    assert current_app.static_folder is not None
    return send_from_directory(
        current_app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=24 * 3600
    )
