"""The HTTP service: a JSON API, a web form, health and metrics, over one ``QAService``.

The layer stays thin: it validates requests, calls the library and shapes responses. Everything
about answering lives in the library, so the API, the CLI and scripts give the same answers.

May import: ``qa.service`` and the runtime packages under it (to load uploads the way ``qa index``
does), never evaluation or training.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from flask import Flask, Response, g, request

from qa.settings import Settings
from qa.web.context import WebState, state
from qa.web.errors import ApiError, register_error_handlers
from qa.web.limits import InFlightLimiter, RateLimiter

if TYPE_CHECKING:
    from qa.service import QAService

#: blueprints whose requests count against the worker's in-flight bound; health, metrics, the spec
#: and static files stay answerable under overload
LIMITED_BLUEPRINTS = frozenset({"api", "pages"})

#: no inline scripts or styles anywhere: the page's only script and stylesheet are static files
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app(settings: Settings | None = None, service: QAService | None = None) -> Flask:
    """Build the app. Nothing heavy happens here: models and the index load on first use, or in
    ``service.warm_up()`` (which ``qa.web.wsgi`` calls once per worker)."""
    # imported here, not at the top: ``qa serve`` imports this package in the gunicorn master and
    # must set PROMETHEUS_MULTIPROC_DIR before prometheus_client is first imported
    from qa.web.metrics import Metrics

    if service is None:
        from qa.service import QAService

        service = QAService(settings)
    settings = settings or service.settings

    app = Flask(__name__)
    # FLASK_DEBUG in a server's environment must not change how errors are answered; the
    # interactive debugger only ever comes with Flask's own server, which `qa serve --dev` runs
    # without it
    app.debug = False
    app.config["MAX_CONTENT_LENGTH"] = settings.server.max_body_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = settings.server.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["qa"] = WebState(
        service=service,
        settings=settings,
        limiter=InFlightLimiter(
            capacity=max(settings.server.queue_size, 1), concurrency=max(settings.server.threads, 1)
        ),
        metrics=Metrics(),
        writes=RateLimiter(settings.server.writes_per_minute),
    )

    from qa.web.api import bp as api_bp
    from qa.web.docs import bp as docs_bp
    from qa.web.ops import bp as ops_bp
    from qa.web.pages import bp as pages_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(docs_bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(pages_bp)
    register_error_handlers(app)
    app.before_request(_admit)
    app.after_request(_finish)
    app.teardown_request(_release)
    return app


def serving_app(settings: Settings) -> Flask:
    """The app as a server runs it: models and index loaded now, once per worker process, so the
    first question is as fast as the others and ``/healthz`` answers only when ready."""
    from qa.service import QAService

    service = QAService(settings)
    service.warm_up()
    return create_app(settings, service)


def _admit() -> None:
    g.started = time.perf_counter()
    if request.blueprint not in LIMITED_BLUEPRINTS:
        return
    web = state()
    if not web.limiter.try_enter():
        web.metrics.rejected.inc()
        raise ApiError(
            503,
            f"this worker is busy ({web.limiter.capacity} requests in flight); retry shortly",
            headers={"Retry-After": "1"},
        )
    g.admitted = True
    web.metrics.in_flight.inc()


def _finish(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.blueprint == "pages":
        response.headers.setdefault("Cache-Control", "no-store")
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    web = state()
    web.metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
    started = g.get("started")
    if started is not None:
        web.metrics.latency.labels(endpoint, request.method).observe(time.perf_counter() - started)
    return response


def _release(_exc: BaseException | None) -> None:
    if g.pop("admitted", False):
        web = state()
        web.limiter.leave()
        web.metrics.in_flight.dec()


__all__ = ["WebState", "create_app", "serving_app", "state"]
