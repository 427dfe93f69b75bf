"""Hostile and careless requests (issue 14's probe findings): each gets a clear 4xx, never a 500,
and nothing is written by a refused request. Every response is checked against the spec."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import CHAIRMAN_DOC, CHAIRMAN_Q, assert_no_server_details
from werkzeug.test import TestResponse

from qa.web.auth import token_matches
from qa.web.limits import RateLimiter

Check = Callable[[TestResponse], TestResponse]
Auth = Callable[..., dict[str, str]]
MakeApp = Callable[..., Flask]

LONE = "\ud800"
#: the token ``auth()`` sends (see conftest)
TOKEN = "test-token-1234"


@pytest.fixture(autouse=True)
def no_server_details(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seeds_index_dir: Path
) -> Iterator[None]:
    """Every response of every test here, whatever its status, is read for server paths (the
    checkout, the virtualenv, temporary and index folders), tracebacks and driver errors."""
    bodies: list[bytes] = []
    send = FlaskClient.open

    def recorded(self: FlaskClient, *args: Any, **kwargs: Any) -> TestResponse:
        response = send(self, *args, **kwargs)
        bodies.append(response.get_data())
        return response

    monkeypatch.setattr(FlaskClient, "open", recorded)
    yield
    if bodies:
        assert_no_server_details(bodies, tmp_path, seeds_index_dir)


def error_of(response: TestResponse, status: int) -> dict[str, str]:
    assert response.status_code == status, response.get_data(as_text=True)
    error: dict[str, str] = response.get_json()["error"]
    assert error["message"]
    return error


def raw_json(value: object) -> bytes:
    """JSON as a client would send it: lone surrogates as ``\\ud800`` escapes."""
    return json.dumps(value, ensure_ascii=True).encode()


# -- finding 2: lone surrogates ------------------------------------------------------------------


def test_lone_surrogate_in_a_question_is_400(client: FlaskClient, check: Check) -> None:
    for path, body in (
        ("/api/ask", {"question": LONE}),
        ("/api/ask", {"question": f"Who is the {LONE} chairman?"}),
        ("/api/ask/batch", {"questions": [CHAIRMAN_Q, LONE]}),
        ("/api/ask", {"question": CHAIRMAN_Q, "filters": {"doc_ids": [LONE]}}),
    ):
        r = client.post(path, data=raw_json(body), content_type="application/json")
        error = error_of(check(r), 400)
        assert "surrogate" in error["message"] and "U+D800" in error["message"]


def test_lone_surrogate_in_a_document_is_400_and_nothing_is_added(
    writable: Flask, check: Check, auth: Auth
) -> None:
    client = writable.test_client()
    body = {
        "documents": [
            {"id": "fine", "text": "A perfectly fine article."},
            {"id": "broken", "text": f"Text with a lone {LONE} surrogate."},
        ]
    }
    r = client.post(
        "/api/documents", data=raw_json(body), content_type="application/json", headers=auth()
    )
    assert "documents[1].text" in error_of(check(r), 400)["message"]
    assert len(client.get("/api/documents").get_json()["documents"]) == 5


# -- finding 3: a line over spaCy's 1,000,000 characters -------------------------------------------


def test_a_document_over_the_size_limit_is_413_and_nothing_is_added(
    make_app: MakeApp, check: Check, auth: Auth
) -> None:
    app = make_app(copy=True, api_token=TOKEN, max_document_chars=50_000)
    client = app.test_client()
    line = "The council met again on Tuesday. " * 3_000  # 102,000 characters on one line
    big = {"id": "big", "text": line}
    body = {"documents": [{"id": "small", "text": "A small article."}, big]}
    r = check(client.post("/api/documents", json=body, headers=auth()))
    error = error_of(r, 413)
    assert "'big'" in error["message"] and "50,000" in error["message"]
    r = check(
        client.post(
            "/api/documents",
            data={"files": (io.BytesIO(line.encode()), "huge.txt")},
            content_type="multipart/form-data",
            headers=auth(),
        )
    )
    assert "huge.txt" in error_of(r, 413)["message"]
    assert len(client.get("/api/documents").get_json()["documents"]) == 5


def test_an_uploaded_file_over_the_file_limit_is_413_by_name_and_nothing_is_added(
    make_app: MakeApp, check: Check, auth: Auth
) -> None:
    app = make_app(copy=True, api_token=TOKEN, max_file_bytes=1000, writes_per_minute=0)
    client = app.test_client()
    article = b"Lights\n\nThe keeper of Port Ellery is Tomas Brandvold. "
    exact = article + b"x" * (1000 - len(article))

    def upload(*files: tuple[bytes, str]) -> TestResponse:
        return check(
            client.post(
                "/api/documents",
                data={"files": [(io.BytesIO(data), name) for data, name in files]},
                content_type="multipart/form-data",
                headers=auth(),
            )
        )

    error = error_of(upload((exact, "keeper.txt"), (exact + b"x", "big.txt")), 413)
    assert "big.txt: file of 1,001 bytes; the limit is 1,000" in error["message"]
    assert "QA_MAX_FILE_BYTES" in error["message"] and "keeper" not in error["message"]
    assert len(client.get("/api/documents").get_json()["documents"]) == 5
    assert upload((exact, "keeper.txt")).get_json()["added"] == ["keeper"]


# -- finding 7: huge filters ---------------------------------------------------------------------


def test_a_filter_of_260000_doc_ids_is_400_with_the_limit(
    client: FlaskClient, check: Check
) -> None:
    ids = [f"doc-{i}" for i in range(260_000)]
    r = check(client.post("/api/ask", json={"question": CHAIRMAN_Q, "filters": {"doc_ids": ids}}))
    message = error_of(r, 400)["message"]
    assert "260000 values" in message and "limit is 1000" in message
    many = [CHAIRMAN_DOC] + [f"doc-{i}" for i in range(999)]  # at the limit: answered
    r = check(client.post("/api/ask", json={"question": CHAIRMAN_Q, "filters": {"doc_ids": many}}))
    assert {p["doc_id"] for p in r.get_json()["passages"]} == {CHAIRMAN_DOC}
    r = check(
        client.get("/api/search", query_string=[("q", "x")] + [("doc_id", i) for i in ids[:1001]])
    )
    error_of(r, 400)


# -- finding 8: dates ----------------------------------------------------------------------------


def test_bad_dates_in_filters_are_400(client: FlaskClient, check: Check) -> None:
    for filters in (
        {"date_from": "yesterday"},
        {"date_to": "2024-13-45"},
        {"date_from": "2024-02-30"},
        {"date_from": "20240101"},
    ):
        r = check(client.post("/api/ask", json={"question": CHAIRMAN_Q, "filters": filters}))
        assert "date" in error_of(r, 400)["message"]
    for bad in ("yesterday", ""):
        r = check(client.get("/api/search", query_string={"q": "Russia", "date_to": bad}))
        error_of(r, 400)
    r = check(client.get("/api/search", query_string={"q": "Russia", "date_from": "1990-01-01"}))
    assert r.status_code == 200


# -- finding 10: bounded work per request ----------------------------------------------------------


def test_batch_work_is_bounded_by_questions_times_top_k(
    make_app: MakeApp, client: FlaskClient, check: Check
) -> None:
    r = check(client.post("/api/ask/batch", json={"questions": ["why?"] * 1000, "top_k": 100}))
    message = error_of(r, 413)["message"]
    assert "100000 passages" in message and "QA_MAX_BATCH_PASSAGES" in message
    small = make_app(max_batch_passages=6).test_client()
    error_of(check(small.post("/api/ask/batch", json={"questions": ["a?", "b?"], "top_k": 4})), 413)
    r = check(small.post("/api/ask/batch", json={"questions": [CHAIRMAN_Q] * 2, "top_k": 3}))
    assert r.status_code == 200 and len(r.get_json()["results"]) == 2


# -- finding 11: smaller issues ------------------------------------------------------------------


def test_a_chunked_body_over_the_limit_is_413(make_app: MakeApp, check: Check) -> None:
    client = make_app(max_body_bytes=4096).test_client()
    body = b'{"question": "' + b"x" * 10_000 + b'"}'
    for path in ("/api/ask", "/api/ask/batch"):
        r = client.post(
            path,
            input_stream=io.BytesIO(body),
            content_type="application/json",
            # sent chunked, as the probe did: no Content-Length, and a server (gunicorn) that
            # ends the stream itself
            environ_overrides={"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True},
        )
        assert error_of(check(r), 413)["code"] == "too_large"
    # a chunked body under the limit is read whole
    r = client.post(
        "/api/ask",
        input_stream=io.BytesIO(b'{"question": ""}'),
        content_type="application/json",
        environ_overrides={"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True},
    )
    assert "empty" in error_of(check(r), 400)["message"]


def test_metrics_need_the_token_when_one_is_set(
    writable: Flask, client: FlaskClient, check: Check, auth: Auth
) -> None:
    assert check(client.get("/metrics")).status_code == 200  # no token configured: open
    guarded = writable.test_client()
    r = check(guarded.get("/metrics"))
    assert error_of(r, 401)["code"] == "unauthorized"
    error_of(check(guarded.get("/metrics", headers=auth("wrong"))), 401)
    assert check(guarded.get("/metrics", headers=auth())).status_code == 200


def test_path_like_document_ids_are_refused(writable: Flask, check: Check, auth: Auth) -> None:
    client = writable.test_client()
    for doc_id in ("..", ".", "...", "a/b", "a\\b", "a#1"):
        body = {"documents": [{"id": doc_id, "text": "Some article text."}]}
        r = check(client.post("/api/documents", json=body, headers=auth()))
        assert error_of(r, 400)["code"] == "bad_request", doc_id
    r = check(
        client.post(
            "/api/documents",
            data={"files": (io.BytesIO(b"Some article text."), "...txt")},
            content_type="multipart/form-data",
            headers=auth(),
        )
    )
    error_of(r, 400)
    assert len(client.get("/api/documents").get_json()["documents"]) == 5
    body = {"documents": [{"id": "a..b", "text": "Dots inside an id are fine."}]}
    assert check(client.post("/api/documents", json=body, headers=auth())).status_code == 200


def test_the_spec_states_the_limits_the_service_enforces(client: FlaskClient, check: Check) -> None:
    spec = check(client.get("/openapi.json")).get_json()
    schemas = spec["components"]["schemas"]
    assert schemas["Question"]["maxLength"] == 2000 and schemas["Question"]["minLength"] == 1
    assert schemas["AskRequest"]["properties"]["top_k"]["maximum"] == 100
    assert schemas["BatchRequest"]["properties"]["questions"]["maxItems"] == 1000
    assert schemas["BatchRequest"]["properties"]["top_k"]["maximum"] == 100
    search = {p["name"]: p for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert search["q"]["schema"]["minLength"] == 1 and search["top_k"]["schema"]["maximum"] == 100
    page = {p["name"]: p for p in spec["paths"]["/documents/{doc_id}"]["get"]["parameters"]}
    assert "together with end" in page["start"]["description"]
    assert "400" in spec["paths"]["/documents/{doc_id}"]["get"]["responses"]
    # an empty index answers 200 with no passages; the spec no longer promises a 409 for it
    for path, method in (("/api/ask", "post"), ("/api/ask/batch", "post"), ("/api/search", "get")):
        assert "409" not in spec["paths"][path][method]["responses"]


def test_an_empty_index_answers_200_without_passages(
    make_app: MakeApp, check: Check, tmp_path: object
) -> None:
    from pathlib import Path

    client = make_app(index_dir=Path(str(tmp_path)) / "empty").test_client()
    r = check(client.post("/api/ask", json={"question": CHAIRMAN_Q}))
    assert r.status_code == 200 and r.get_json()["answer"] is None
    assert r.get_json()["passages"] == []


# -- limits: token, rate, headers, debug -----------------------------------------------------------


def test_token_compare_is_constant_time_and_exact() -> None:
    assert token_matches("Bearer s3cret", "s3cret")
    assert token_matches("bearer  s3cret ", "s3cret")
    for header in ("Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret", "", "Bearer é"):
        assert not token_matches(header, "s3cret"), header
    import inspect

    assert "compare_digest" in inspect.getsource(token_matches)


def test_writes_are_rate_limited_with_429_and_retry_after(
    make_app: MakeApp, check: Check, auth: Auth
) -> None:
    client = make_app(copy=True, api_token=TOKEN, writes_per_minute=2).test_client()
    statuses = [
        check(client.delete("/api/documents/no-such-doc", headers=auth())).status_code
        for _ in range(12)
    ]
    assert statuses[:10] == [404] * 10  # a burst of 10 is allowed
    r = check(client.delete("/api/documents/no-such-doc", headers=auth("guess")))
    assert error_of(r, 429)["code"] == "too_many_requests"  # guessing is limited too
    assert int(r.headers["Retry-After"]) >= 1
    assert statuses[10:] == [429, 429]
    # reads are not limited
    assert check(client.get("/api/documents")).status_code == 200


def test_rate_limiter_refills_over_time() -> None:
    limiter = RateLimiter(per_minute=60, burst=2)
    assert limiter.acquire("a", now=0.0) == 0.0
    assert limiter.acquire("a", now=0.0) == 0.0
    assert limiter.acquire("a", now=0.0) > 0.0
    assert limiter.acquire("b", now=0.0) == 0.0  # per client
    assert limiter.acquire("a", now=1.5) == 0.0  # one token a second
    assert RateLimiter(per_minute=0).acquire("a") == 0.0  # 0: no limit


def test_security_headers_deny_framing_and_sniffing(client: FlaskClient) -> None:
    for r in (
        client.get("/"),
        client.get("/?q=%3Cscript%3Ealert(1)%3C/script%3E"),
        client.get(f"/documents/{CHAIRMAN_DOC}"),
        client.post("/api/ask", json={"question": CHAIRMAN_Q}),
        client.get("/openapi.json"),
    ):
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "object-src 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    page = client.get("/?q=%3Cscript%3Ealert(1)%3C/script%3E").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_flask_debug_in_the_environment_does_not_turn_on_debug(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = make_app()
    assert app.debug is False

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    r = app.test_client().get("/boom")
    assert r.status_code == 500
    assert "secret internals" not in r.get_data(as_text=True)
    assert "Traceback" not in r.get_data(as_text=True)


# -- found by schemathesis -----------------------------------------------------------------------


def test_an_integral_float_top_k_is_an_integer(client: FlaskClient, check: Check) -> None:
    """JSON Schema counts 5.0 as an integer; the API refused it with 400."""
    r = check(client.post("/api/ask", json={"question": CHAIRMAN_Q, "top_k": 2.0}))
    assert r.status_code == 200 and len(r.get_json()["passages"]) == 2
    r = check(client.post("/api/ask/batch", json={"questions": [CHAIRMAN_Q], "top_k": 1.0}))
    assert r.status_code == 200
    error_of(check(client.post("/api/ask", json={"question": CHAIRMAN_Q, "top_k": 2.5})), 400)


def test_the_question_limit_counts_what_was_sent(client: FlaskClient) -> None:
    """A question over the limit only in its surrounding spaces was accepted, though the spec
    (maxLength) refuses it."""
    padded = "Who?" + "\u00a0" * 2000
    assert client.get("/", query_string={"q": padded}).status_code == 413
    r = client.post("/api/ask", json={"question": padded})
    assert error_of(r, 413)["code"] == "too_large"


# -- issue 32: errors name what the client sent, never the server's folders ------------------------


def test_a_duplicate_id_among_uploaded_files_names_the_files_sent(
    writable: Flask, check: Check, auth: Auth
) -> None:
    """Two files with one stem: the message named the first one by its path in the server's
    temporary upload folder."""
    client = writable.test_client()
    r = check(
        client.post(
            "/api/documents",
            data={
                "files": [
                    (io.BytesIO(b"Evil\n\nThe text of the first evil file."), "evil.txt"),
                    (
                        io.BytesIO(b"<html><body><p>The second evil file.</p></body></html>"),
                        "evil.html",
                    ),
                ]
            },
            content_type="multipart/form-data",
            headers=auth(),
        )
    )
    message = error_of(r, 400)["message"]
    assert "duplicate document id 'evil'" in message
    assert "evil.txt" in message and "evil.html" in message
    assert "qa-upload-" not in message and "/" not in message.replace("text/html", "")
    assert len(client.get("/api/documents").get_json()["documents"]) == 5


def test_a_server_side_index_error_does_not_show_where_the_index_lies(
    make_app: MakeApp, check: Check, seeds_index_dir: Path, tmp_path: Path
) -> None:
    """The library's message names the index folder (an index of another format version); the
    client gets a fixed sentence, from the API, the form and the readiness check alike, and the
    server log the details."""
    import shutil
    import sqlite3

    index = tmp_path / "old-index"
    shutil.copytree(seeds_index_dir, index)
    with sqlite3.connect(index / "store.sqlite3") as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'format_version'")
    client = make_app(index_dir=index).test_client()
    r = check(client.post("/api/ask", json={"question": CHAIRMAN_Q}))
    assert error_of(r, 500)["code"] == "index_version"
    assert "server log" in r.get_json()["error"]["message"]
    r = client.get("/", query_string={"q": CHAIRMAN_Q}, headers={"Accept": "text/html"})
    assert r.status_code == 500 and "server log" in r.get_data(as_text=True)
    r = check(client.get("/healthz"))
    assert r.status_code == 503 and r.get_json()["status"] == "error"
    assert r.get_json()["error"]["code"] == "index_version"
    assert "server log" in r.get_json()["error"]["message"]


def test_health_names_models_and_no_server_folder(client: FlaskClient, check: Check) -> None:
    body = check(client.get("/healthz")).get_json()
    assert body["ready"] is True and "index_dir" not in body
    assert body["embed_model"] and not body["embed_model"].startswith("/")
    assert ":/" not in body["reader"]
    passages = check(client.get("/api/search", query_string={"q": CHAIRMAN_Q})).get_json()
    assert all(p["path"] is None or "/" not in p["path"] for p in passages["passages"])
