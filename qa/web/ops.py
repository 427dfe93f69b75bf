"""Operational endpoints: ``/healthz``, ``/metrics``, the OpenAPI spec and the favicon."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, current_app, jsonify, send_from_directory

from qa.web.auth import require_token
from qa.web.context import state

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
    """200 when the index opens and answers a count; 503 (with the reason) when it does not, so a
    load balancer stops sending questions to a worker that cannot answer them."""
    try:
        health = state().service.health()
    except Exception as exc:  # any failure here means "not ready", never a 500
        log.warning("health check failed: %s", exc)
        return jsonify({"status": "error", "error": f"{type(exc).__name__}: {exc}"}), 503
    return jsonify(health), 200


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
