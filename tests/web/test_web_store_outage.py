"""The service on the pgvector store while PostgreSQL is down (issue 32): every endpoint that
needs the store answers 503 ``store_unavailable`` with ``Retry-After`` within the store timeout,
the form says so in words, readiness fails while liveness holds, and everything answers again
once PostgreSQL is back, by itself. The real service and a real PostgreSQL of its own (it is
crashed); the load drill over HTTP is ``test_web_pg_drill.py``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from store.pgserver import LocalPostgres
from support import CHAIRMAN, CHAIRMAN_DOC, CHAIRMAN_Q, assert_no_server_details
from werkzeug.test import TestResponse

from qa.service import QAService
from qa.web import create_app
from qa.web.pages import STORE_UNAVAILABLE

Check = Callable[[TestResponse], TestResponse]

TOKEN = "outage-token"
TIMEOUT = 2.0
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def pg() -> Iterator[LocalPostgres]:
    with LocalPostgres() as server:
        yield server


@pytest.fixture
def pg_app(pg: LocalPostgres, seeds_service: QAService, tmp_path: Path) -> Iterator[Flask]:
    """The seeds in PostgreSQL, served by an app sharing the session's models."""
    settings = seeds_service.settings.replace(
        store="pgvector",
        database_url=pg.url,
        pg_table_prefix=f"w{uuid.uuid4().hex[:10]}_",
        index_dir=tmp_path / "index",
        api_token=TOKEN,
        writes_per_minute=0,
        store_timeout=TIMEOUT,
    )
    service = QAService(settings, reader=seeds_service.reader, embedder=seeds_service.embedder)
    assert len(service.index().added) == 5
    yield create_app(settings, service)
    service.close()


def test_a_store_outage_is_a_fast_503_everywhere_and_ends_by_itself(
    pg: LocalPostgres, pg_app: Flask, check: Check
) -> None:
    client = pg_app.test_client()
    bodies: list[bytes] = []

    def sent(response: TestResponse) -> TestResponse:
        bodies.append(response.get_data())
        return response

    assert check(client.post("/api/ask", json={"question": CHAIRMAN_Q})).status_code == 200
    new_doc = {"documents": [{"id": "outage-news", "text": "The harbour reopened on Monday."}]}
    api = {
        "ask": lambda: client.post("/api/ask", json={"question": CHAIRMAN_Q}),
        "batch": lambda: client.post("/api/ask/batch", json={"questions": [CHAIRMAN_Q]}),
        "search": lambda: client.get("/api/search", query_string={"q": CHAIRMAN_Q}),
        "documents": lambda: client.get("/api/documents"),
        "document": lambda: client.get(f"/api/documents/{CHAIRMAN_DOC}"),
        "add": lambda: client.post("/api/documents", json=new_doc, headers=AUTH),
        "delete": lambda: client.delete(f"/api/documents/{CHAIRMAN_DOC}", headers=AUTH),
    }
    pg.crash()
    try:
        for _ in range(2):  # the first finds the pooled connections dead, the second the server
            for name, call in api.items():
                started = time.monotonic()
                r = sent(check(call()))
                seconds = time.monotonic() - started
                assert r.status_code == 503, (name, r.get_data(as_text=True))
                assert r.get_json()["error"]["code"] == "store_unavailable", name
                assert int(r.headers["Retry-After"]) >= 1, name
                assert seconds < TIMEOUT + 1, (name, seconds)
        r = sent(check(client.get("/healthz")))
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
        assert r.get_json()["ready"] is False and r.get_json()["live"] is True
        assert r.get_json()["error"]["code"] == "store_unavailable"
        r = sent(check(client.get("/healthz/live")))
        assert r.status_code == 200 and r.get_json()["live"] is True
        # the form says it in words, and keeps the question to send again
        r = sent(client.get("/", query_string={"q": CHAIRMAN_Q}, headers=HTML))
        page = r.get_data(as_text=True)
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
        assert STORE_UNAVAILABLE.split(",")[0] in page and CHAIRMAN_Q in page
        r = sent(client.get("/", headers=HTML))
        assert r.status_code == 503 and STORE_UNAVAILABLE.split(",")[0] in r.get_data(as_text=True)
        r = sent(client.get(f"/documents/{CHAIRMAN_DOC}", headers=HTML))
        assert r.status_code == 503 and "cannot be reached" in r.get_data(as_text=True)
    finally:
        pg.restart()
    deadline = time.monotonic() + 10
    while (r := check(api["ask"]())).status_code != 200:
        assert r.status_code == 503 and time.monotonic() < deadline, r.get_data(as_text=True)
        time.sleep(0.2)
    assert CHAIRMAN in r.get_json()["answer"]["text"]
    assert check(client.get("/healthz")).get_json()["ready"] is True
    assert check(api["add"]()).get_json()["added"] == ["outage-news"]
    ids = {d["id"] for d in check(client.get("/api/documents")).get_json()["documents"]}
    assert len(ids) == 6 and "outage-news" in ids and CHAIRMAN_DOC in ids  # the 503s wrote nothing
    assert_no_server_details(bodies, pg.root)
