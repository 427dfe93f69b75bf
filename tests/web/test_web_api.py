"""The JSON API with Flask's test client over the real seeds index; every response is validated
against the OpenAPI spec served at /openapi.json."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import CHAIRMAN, CHAIRMAN_DOC, CHAIRMAN_Q
from werkzeug.test import TestResponse

Check = Callable[[TestResponse], TestResponse]
Auth = Callable[..., dict[str, str]]


def error_of(response: TestResponse, status: int) -> dict[str, str]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    # a write refused for some files or records lists them too
    assert set(body["error"]) - {"problems"} == {"code", "message"} and body["error"]["message"]
    error: dict[str, str] = body["error"]
    return error


# -- asking ------------------------------------------------------------------------------------


def test_ask_answers_with_a_citation_that_matches_the_document(
    client: FlaskClient, check: Check
) -> None:
    r = check(client.post("/api/ask", json={"question": CHAIRMAN_Q}))
    assert r.status_code == 200
    body = r.get_json()
    answer = body["answer"]
    assert CHAIRMAN in answer["text"]
    assert answer["doc_id"] == CHAIRMAN_DOC
    assert 0.0 <= answer["score"] <= 1.0
    assert answer["citations"][0]["doc_id"] == CHAIRMAN_DOC
    doc = check(client.get(f"/api/documents/{CHAIRMAN_DOC}")).get_json()
    assert doc["text"][answer["start"] : answer["end"]] == answer["text"]
    assert answer["text"] in answer["sentence"]
    assert {"retrieve", "read", "total"} <= set(body["timings_ms"])
    for p in body["passages"]:
        assert (
            p["text"]
            == check(client.get(f"/api/documents/{p['doc_id']}")).get_json()["text"][
                p["start"] : p["end"]
            ]
        )


def test_ask_honours_top_k_and_filters(client: FlaskClient, check: Check) -> None:
    r = check(client.post("/api/ask", json={"question": CHAIRMAN_Q, "top_k": 2}))
    assert len(r.get_json()["passages"]) == 2
    other = "001_bd319fea323e537e"
    r = check(
        client.post("/api/ask", json={"question": CHAIRMAN_Q, "filters": {"doc_ids": [other]}})
    )
    body = r.get_json()
    assert body["passages"] and {p["doc_id"] for p in body["passages"]} == {other}


def test_batch_returns_one_result_per_question_in_order(client: FlaskClient, check: Check) -> None:
    questions = [
        "Which news agency reported that Putin signed the alliance agreement?",
        CHAIRMAN_Q,
        "Who painted the Mona Lisa?",
    ]
    r = check(client.post("/api/ask/batch", json={"questions": questions, "top_k": 3}))
    results = r.get_json()["results"]
    assert [res["question"] for res in results] == questions
    assert CHAIRMAN in results[1]["answer"]["text"]
    assert all(len(res["passages"]) == 3 for res in results)
    assert check(client.post("/api/ask/batch", json={"questions": []})).get_json() == {
        "results": []
    }


def test_search_returns_passages_only(client: FlaskClient, check: Check) -> None:
    r = check(client.get("/api/search", query_string={"q": "Tskhinvali parliament", "top_k": 3}))
    body = r.get_json()
    assert body["query"] == "Tskhinvali parliament"
    assert len(body["passages"]) == 3
    assert [p["rank"] for p in body["passages"]] == [1, 2, 3]
    assert "answer" not in body
    r = check(client.get("/api/search", query_string={"q": "Russia", "doc_id": CHAIRMAN_DOC}))
    assert {p["doc_id"] for p in r.get_json()["passages"]} == {CHAIRMAN_DOC}


# -- documents ---------------------------------------------------------------------------------


def test_documents_list_and_detail(client: FlaskClient, check: Check) -> None:
    docs = check(client.get("/api/documents")).get_json()["documents"]
    assert len(docs) == 5 and CHAIRMAN_DOC in {d["id"] for d in docs}
    detail = check(client.get(f"/api/documents/{CHAIRMAN_DOC}")).get_json()
    assert detail["chunks"] >= 1 and detail["chars"] == len(detail["text"])
    assert "Alan Alborov" in detail["text"]
    error = error_of(check(client.get("/api/documents/no-such-doc")), 404)
    assert error["code"] == "not_found"


def test_writes_are_forbidden_without_a_configured_token(
    client: FlaskClient, check: Check, auth: Auth
) -> None:
    record = {"documents": [{"id": "x", "text": "Some text."}]}
    error = error_of(check(client.post("/api/documents", json=record, headers=auth())), 403)
    assert "QA_API_TOKEN" in error["message"]
    error_of(check(client.delete(f"/api/documents/{CHAIRMAN_DOC}", headers=auth())), 403)
    assert len(client.get("/api/documents").get_json()["documents"]) == 5


@pytest.mark.parametrize("kind", ["missing", "wrong", "no-scheme", "basic"])
def test_writes_need_the_right_bearer_token(
    writable: Flask, check: Check, auth: Auth, kind: str
) -> None:
    token = auth()["Authorization"].removeprefix("Bearer ")
    headers = {
        "missing": {},
        "wrong": auth("wrong-token"),
        "no-scheme": {"Authorization": token},
        "basic": {"Authorization": f"Basic {token}"},
    }[kind]
    client = writable.test_client()
    record = {"documents": [{"id": "x", "text": "Some text."}]}
    r = check(client.post("/api/documents", json=record, headers=headers))
    assert error_of(r, 401)["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    error_of(check(client.delete(f"/api/documents/{CHAIRMAN_DOC}", headers=headers)), 401)
    assert len(client.get("/api/documents").get_json()["documents"]) == 5


def test_add_ask_replace_and_delete_a_document(writable: Flask, check: Check, auth: Auth) -> None:
    client = writable.test_client()
    record = {
        "id": "zebra",
        "title": "Zebra crossing report",
        "text": "The city council approved the new zebra crossing on Elm Street. "
        "The crossing was designed by the engineer Mirela Vantongeren.",
        "source": "Town Gazette",
        "date": "2024-05-01",
    }
    r = check(client.post("/api/documents", json={"documents": [record]}, headers=auth()))
    report = r.get_json()
    assert report["added"] == ["zebra"] and report["chunks"] >= 1

    r = check(client.post("/api/ask", json={"question": "Who designed the zebra crossing?"}))
    answer = r.get_json()["answer"]
    assert answer["doc_id"] == "zebra" and "Vantongeren" in answer["text"]
    assert answer["citations"][0]["source"] == "Town Gazette"

    changed = record | {"text": record["text"].replace("Mirela", "Ana")}
    r = check(client.post("/api/documents", json={"documents": [changed]}, headers=auth()))
    assert r.get_json()["replaced"] == ["zebra"]
    assert "Ana Vantongeren" in client.get("/api/documents/zebra").get_json()["text"]

    r = check(client.delete("/api/documents/zebra", headers=auth()))
    assert r.get_json()["deleted"] == "zebra" and r.get_json()["chunks"] >= 1
    error_of(check(client.get("/api/documents/zebra")), 404)
    error_of(check(client.delete("/api/documents/zebra", headers=auth())), 404)
    assert len(client.get("/api/documents").get_json()["documents"]) == 5


def test_upload_files_as_multipart(writable: Flask, check: Check, auth: Auth) -> None:
    client = writable.test_client()
    text = "Harbour news\n\nThe lighthouse keeper of Port Ellery is Tomas Brandvold.\n"
    r = check(
        client.post(
            "/api/documents",
            data={"files": (io.BytesIO(text.encode()), "harbour_news.txt")},
            content_type="multipart/form-data",
            headers=auth(),
        )
    )
    assert r.get_json()["added"] == ["harbour_news"]
    detail = client.get("/api/documents/harbour_news").get_json()
    assert detail["text"] == text and detail["path"] == "harbour_news.txt"


def test_a_failed_add_leaves_the_index_as_it_was(writable: Flask, check: Check, auth: Auth) -> None:
    client = writable.test_client()
    before = client.get("/api/documents").get_json()
    good = {"id": "good", "text": "A perfectly fine article about tides."}
    for bad in (
        {"id": "bad"},  # no text
        {"id": "", "text": "no id"},
        {"id": "bad", "text": 42},
        "not an object",
    ):
        r = check(client.post("/api/documents", json={"documents": [good, bad]}, headers=auth()))
        assert error_of(r, 400)["code"] == "bad_request"
    bodies: list[object] = [{"documents": []}, {"documents": "x"}, {"docs": [good]}, []]
    for body in bodies:
        error_of(check(client.post("/api/documents", json=body, headers=auth())), 400)
    r = check(
        client.post(
            "/api/documents",
            data={
                "files": [
                    (io.BytesIO(b"A fine article about tides."), "good.txt"),
                    (io.BytesIO(b"\x00\xff\xfe binary \x00"), "broken.txt"),
                ]
            },
            content_type="multipart/form-data",
            headers=auth(),
        )
    )
    assert "broken.txt" in error_of(r, 400)["message"]
    r = client.post(
        "/api/documents",
        data={
            "a": (io.BytesIO(b"A fine article about tides."), "good.txt"),
            "b": (io.BytesIO(b"MZ..."), "tool.exe"),
        },
        content_type="multipart/form-data",
        headers=auth(),
    )
    assert "tool.exe" in error_of(check(r), 400)["message"]
    error_of(
        check(
            client.post(
                "/api/documents", data={}, content_type="multipart/form-data", headers=auth()
            )
        ),
        400,
    )
    assert client.get("/api/documents").get_json() == before
    error_of(client.get("/api/documents/good"), 404)


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": "   "},
        {"question": None},
        {"question": 42},
        {"question": ["a"]},
        {"question": CHAIRMAN_Q, "top_k": 0},
        {"question": CHAIRMAN_Q, "top_k": -1},
        {"question": CHAIRMAN_Q, "top_k": "5"},
        {"question": CHAIRMAN_Q, "top_k": 2.5},
        {"question": CHAIRMAN_Q, "top_k": True},
        {"question": CHAIRMAN_Q, "top_k": 10**9},
        {"question": CHAIRMAN_Q, "filters": "doc"},
        {"question": CHAIRMAN_Q, "filters": {"colour": "red"}},
        {"question": CHAIRMAN_Q, "filters": {"doc_ids": [1, 2]}},
        {"question": CHAIRMAN_Q, "filters": {"date_from": 2024}},
        {"question": CHAIRMAN_Q, "tpo_k": 3},
    ],
)
def test_ask_rejects_bad_input_with_400(
    client: FlaskClient, check: Check, body: dict[str, object]
) -> None:
    assert error_of(check(client.post("/api/ask", json=body)), 400)["code"] == "bad_request"


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"",
        b"not json",
        b"\xff\xfe",
        b'{"question": "a",}',
        b'"a string"',
        b"[1]",
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["open", "empty", "text", "bom", "trailing-comma", "string", "list", "deep"],
)
def test_malformed_or_non_object_json_is_400(client: FlaskClient, check: Check, raw: bytes) -> None:
    for path in ("/api/ask", "/api/ask/batch"):
        r = client.post(path, data=raw, content_type="application/json")
        error_of(check(r), 400)


def test_batch_rejects_bad_input(client: FlaskClient, check: Check) -> None:
    for body in ({}, {"questions": "one"}, {"questions": [CHAIRMAN_Q, ""]}, {"questions": [1]}):
        error_of(check(client.post("/api/ask/batch", json=body)), 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(
    client: FlaskClient, check: Check, content_type: str | None
) -> None:
    body = json.dumps({"question": CHAIRMAN_Q})
    for path in ("/api/ask", "/api/ask/batch"):
        r = client.post(path, data=body, content_type=content_type)
        assert error_of(check(r), 415)["code"] == "unsupported_media_type"


def test_write_with_wrong_content_type_is_415(writable: Flask, check: Check, auth: Auth) -> None:
    r = writable.test_client().post(
        "/api/documents", data="id,text", content_type="text/csv", headers=auth()
    )
    error_of(check(r), 415)


def test_search_rejects_bad_parameters(client: FlaskClient, check: Check) -> None:
    error_of(check(client.get("/api/search")), 400)
    error_of(check(client.get("/api/search", query_string={"q": ""})), 400)
    error_of(check(client.get("/api/search", query_string={"q": "x", "top_k": "many"})), 400)
    error_of(check(client.get("/api/search", query_string={"q": "x", "top_k": "0"})), 400)


def test_limits_answer_413(make_app: Callable[..., Flask], check: Check) -> None:
    client = make_app(max_body_bytes=4096, max_question_chars=200, max_batch=3).test_client()
    r = check(client.post("/api/ask", json={"question": "why " * 100}))
    assert error_of(r, 413)["code"] == "too_large"
    r = check(client.post("/api/ask/batch", json={"questions": [CHAIRMAN_Q] * 4}))
    assert error_of(r, 413)["code"] == "too_large"
    r = check(client.post("/api/ask", json={"question": "x" * 5000}))
    assert error_of(r, 413)["code"] == "too_large"
    r = check(client.get("/api/search", query_string={"q": "why " * 100}))
    error_of(r, 413)


def test_unknown_route_and_wrong_method(client: FlaskClient, check: Check) -> None:
    assert error_of(client.get("/api/nothing-here"), 404)["code"] == "not_found"
    assert error_of(client.get("/nothing-here"), 404)["code"] == "not_found"
    # (no spec check: the spec lists the operations that exist)
    r = client.get("/api/ask")
    assert error_of(r, 405)["code"] == "method_not_allowed"
    assert "POST" in r.headers["Allow"]
    error_of(client.put(f"/api/documents/{CHAIRMAN_DOC}", json={}), 405)


def test_full_worker_answers_503_with_retry_after(
    make_app: Callable[..., Flask], check: Check
) -> None:
    app = make_app(queue_size=2)
    client = app.test_client()
    limiter = app.extensions["qa"].limiter
    with limiter.slot(), limiter.slot():
        r = check(client.post("/api/ask", json={"question": CHAIRMAN_Q}))
        assert error_of(r, 503)["code"] == "unavailable"
        assert int(r.headers["Retry-After"]) >= 1
        error_of(check(client.get("/api/documents")), 503)
        # health checks and metrics still answer, so the worker does not look dead
        assert check(client.get("/healthz")).status_code == 200
        assert b"qa_overload_rejections_total 2.0" in client.get("/metrics").data
    assert check(client.post("/api/ask", json={"question": CHAIRMAN_Q})).status_code == 200
    assert limiter.in_flight == 0


# -- operations --------------------------------------------------------------------------------


def test_healthz(client: FlaskClient, check: Check) -> None:
    body = check(client.get("/healthz")).get_json()
    assert body["status"] == "ok" and body["documents"] == 5 and body["chunks"] >= 5
    assert body["embed_model"] and body["reader"]


def test_healthz_is_503_when_the_index_cannot_open(
    make_app: Callable[..., Flask], check: Check, tmp_path: object
) -> None:
    from pathlib import Path

    not_a_dir = Path(str(tmp_path)) / "index-file"
    not_a_dir.write_text("this is a file, not an index folder")
    r = check(make_app(index_dir=not_a_dir).test_client().get("/healthz"))
    assert r.status_code == 503 and r.get_json()["status"] == "error"


def test_metrics_count_requests_and_stage_latency(
    make_app: Callable[..., Flask], check: Check
) -> None:
    client = make_app().test_client()
    client.post("/api/ask", json={"question": CHAIRMAN_Q})
    client.post("/api/ask", json={"question": ""})
    r = check(client.get("/metrics"))
    assert r.content_type.startswith("text/plain")
    text = r.get_data(as_text=True)
    assert 'qa_http_requests_total{endpoint="/api/ask",method="POST",status="200"} 1.0' in text
    assert 'qa_http_requests_total{endpoint="/api/ask",method="POST",status="400"} 1.0' in text
    assert 'qa_http_request_duration_seconds_count{endpoint="/api/ask",method="POST"} 2.0' in text
    for stage in ("retrieve", "read", "total"):
        assert f'qa_stage_duration_seconds_count{{stage="{stage}"}} 1.0' in text
    assert 'qa_answers_total{outcome="answer"} 1.0' in text


def test_openapi_spec_is_served_and_documents_every_route(
    app: Flask, client: FlaskClient, check: Check
) -> None:
    spec = check(client.get("/openapi.json")).get_json()
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is not in openapi.yaml"


def test_security_headers_on_every_response(client: FlaskClient) -> None:
    for r in (client.get("/"), client.get("/healthz"), client.get("/api/nothing")):
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
