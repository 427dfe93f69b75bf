"""Web fixtures: apps over the real seeds index and real models, plus OpenAPI validation.

Read-only apps share the session's ``seeds_service``. Apps that write get their own copy of the
built index. Every app variant shares the already loaded embedder and reader, so a variant costs
an index open, not a model load.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from support import LIVE_TOKEN, ROOT, SEEDS
from werkzeug.test import TestResponse

from qa.service import QAService
from qa.web import create_app
from qa.web.ops import openapi_spec
from qa.web.process import ServeProcess

MakeApp = Callable[..., Flask]

#: the API token of the ``writable`` app
TOKEN = "test-token-1234"
#: the API token of ``live_server``


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(openapi_spec())  # also checks the spec itself is valid OpenAPI 3.1


class _AnsweredRequest(WerkzeugOpenAPIRequest):
    """The request a test-client response answered. Its body stream is spent by then, and
    response validation needs only the method, path and parameters to find the operation."""

    @property
    def body(self) -> bytes | None:
        return None


@pytest.fixture(scope="session")
def check(openapi: OpenAPI) -> Callable[[TestResponse], TestResponse]:
    """Validate a test-client response against the spec (status, headers, body schema)."""

    def validate(response: TestResponse) -> TestResponse:
        openapi.validate_response(
            _AnsweredRequest(response.request), WerkzeugOpenAPIResponse(response)
        )
        return response

    return validate


@pytest.fixture(scope="session")
def app(seeds_service: QAService) -> Flask:
    """The read-only app: no API token, so writes answer 403."""
    return create_app(seeds_service.settings, seeds_service)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_app(seeds_service: QAService, seeds_index_dir: Path, tmp_path: Path) -> Iterator[MakeApp]:
    """``make_app(copy=True, **settings)``: an app with changed settings, on a private copy of the
    seeds index when ``copy`` (for tests that write)."""
    services: list[QAService] = []

    def make(copy: bool = False, **changes: Any) -> Flask:
        index_dir = changes.pop("index_dir", seeds_index_dir)
        if copy:
            index_dir = tmp_path / f"index{len(services)}"
            shutil.copytree(seeds_index_dir, index_dir)
        settings = seeds_service.settings.replace(index_dir=index_dir, **changes)
        svc = QAService(settings, reader=seeds_service.reader, embedder=seeds_service.embedder)
        services.append(svc)
        return create_app(settings, svc)

    yield make
    for svc in services:
        svc.close()


@pytest.fixture
def writable(make_app: MakeApp) -> Flask:
    """An app on a private index copy with an API token configured, and no write rate limit:
    tests here write in bursts; the limiter has tests of its own."""
    return make_app(copy=True, api_token=TOKEN, writes_per_minute=0)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """``qa serve`` for real (gunicorn, one worker) on a free loopback port, on an index folder
    that does not exist yet, so the server builds it from the repo's seeds first. Always stopped
    at teardown."""
    tmp = tmp_path_factory.mktemp("live")
    env = {
        "QA_INDEX_DIR": str(tmp / "index"),
        "QA_CORPUS": str(SEEDS),
        "QA_API_TOKEN": LIVE_TOKEN,  # the browser test uploads through the "Add documents" page
        "PYTHONUNBUFFERED": "1",
        "PROMETHEUS_MULTIPROC_DIR": None,
    }
    with ServeProcess(env=env, cwd=ROOT, log_path=tmp / "serve.log") as server:
        server.wait_until_healthy(timeout=420)
        yield server


@pytest.fixture(scope="session")
def auth() -> Callable[..., dict[str, str]]:
    """``auth()`` gives the headers that authorize a write on ``writable``; ``auth(token)`` the
    same with another token."""

    def headers(token: str = TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    return headers
