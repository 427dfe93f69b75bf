"""The server-rendered web form and the article page, over the real seeds index."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from support import CHAIRMAN, CHAIRMAN_DOC, CHAIRMAN_Q
from werkzeug.test import TestResponse

from qa.service import QAService

Check = Callable[[TestResponse], TestResponse]

SCRIPT = "<script>alert(1)</script>"


def page(response: TestResponse, status: int = 200) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def citation_hrefs(text: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'<a class="citation" href="([^"]+)"', text)]


def test_home_page_has_the_form_and_lists_the_articles(client: FlaskClient, check: Check) -> None:
    text = page(check(client.get("/")))
    assert '<form class="ask" method="get"' in text and 'name="q"' in text
    assert text.count(f'href="/documents/{CHAIRMAN_DOC}"') == 1
    assert "5 articles" in text
    # no inline script or style: the CSP would block them
    assert "<style" not in text and 'style="' not in text
    assert re.findall(r"<script[^>]*>", text) == ['<script src="/static/app.js" defer>']


def test_question_page_highlights_the_answer_and_links_the_citation(
    client: FlaskClient, check: Check
) -> None:
    text = page(check(client.get("/", query_string={"q": CHAIRMAN_Q})))
    marked = re.search(r'<blockquote class="sentence">.*?<mark class="answer">(.*?)</mark>', text)
    assert marked and CHAIRMAN in marked.group(1)
    assert re.search(r"<strong>\d{1,3}%</strong>", text)
    hrefs = citation_hrefs(text)
    assert hrefs and hrefs[0].startswith(f"/documents/{CHAIRMAN_DOC}?")
    assert hrefs[0].endswith("#answer")
    for name in ("start=", "end=", "pstart=", "pend=", "q="):
        assert name in hrefs[0]

    doc = page(check(client.get(hrefs[0].split("#")[0])))
    answer = re.search(r'<mark class="answer" id="answer">(.*?)</mark>', doc)
    assert answer and CHAIRMAN in answer.group(1)
    assert 'id="passage"' in doc
    assert "Back to the answer" in doc


def test_no_answer_is_said_plainly_with_the_closest_passages(
    make_app: Callable[..., Flask], check: Check
) -> None:
    # a threshold above any confidence makes every question unanswered, whatever the reader
    client = make_app(answer_threshold=1.01).test_client()
    text = page(check(client.get("/", query_string={"q": CHAIRMAN_Q})))
    assert "No answer in these documents." in text
    assert text.count('<article class="passage') == 5  # every passage retrieved (top_k)
    assert "<mark" not in text
    # the closest candidate is shown as what the documents do not state, with why
    refusal = re.search(r'<div class="refusal">(.*?)</div>', text, re.S)
    assert refusal and "<em>not stated</em>" in refusal.group(1)
    assert f'<strong class="candidate">{CHAIRMAN}</strong>' in refusal.group(1)
    assert '<span class="candidate">' in refusal.group(1)
    assert re.search(r'<p class="why">[^<]+</p>', refusal.group(1))


def test_a_refusal_names_what_the_passage_does_not_say(
    make_app: Callable[..., Flask], check: Check
) -> None:
    client = make_app(answer_threshold=1.01).test_client()
    question = "Who was the head of the Abkhazian KGB from 1992 to 1998?"
    body = check(client.post("/api/ask", json={"question": question})).get_json()
    assert body["answer"] is None and body["refusal"]["stated"] is False
    assert body["refusal"]["closest"]["text"] == "Leonid Tibilov"
    assert {"text": "Abkhazian", "kind": "name", "instead": "South Ossetian"} in body["refusal"][
        "unsupported"
    ]
    text = page(check(client.get("/", query_string={"q": question})))
    assert "The passage says South Ossetian, not Abkhazian." in html.unescape(text)


def test_the_article_page_shows_text_and_rejects_bad_offsets(
    client: FlaskClient, check: Check
) -> None:
    doc = page(check(client.get(f"/documents/{CHAIRMAN_DOC}")))
    assert "Alan Alborov, the chairman of the occupied Tskhinvali parliament" in doc
    assert 'id="answer"' not in doc
    for query in (
        {"start": "a", "end": "3"},
        {"start": "5"},
        {"start": "9", "end": "3"},
        {"start": "0", "end": "999999"},
        {"pstart": "-1", "pend": "3"},
    ):
        r = client.get(f"/documents/{CHAIRMAN_DOC}", query_string=query, headers=_browser())
        assert "must" in page(check(r), 400)


def test_unknown_article_page_is_404(client: FlaskClient, check: Check) -> None:
    assert "unknown document" in page(check(client.get("/documents/nope", headers=_browser())), 404)
    assert "no such resource" in page(client.get("/nothing/here", headers=_browser()), 404)


def test_too_long_question_is_explained_on_the_page(
    make_app: Callable[..., Flask], check: Check
) -> None:
    client = make_app(max_question_chars=50).test_client()
    text = page(check(client.get("/", query_string={"q": "why " * 30})), 413)
    assert 'class="error"' in text and "limit is 50" in text


def test_document_text_is_escaped_everywhere(
    writable: Flask, check: Check, auth: Callable[..., dict[str, str]]
) -> None:
    client = writable.test_client()
    record = {
        "id": "xss",
        "title": "<b>Project Zebra</b> " + SCRIPT,
        "text": f"Project Zebra status report.\n\nThe launch code of Project Zebra is {SCRIPT} "
        "and it was chosen by the committee in March.",
        "source": "<i>Gazette</i>",
        "url": "javascript:alert(1)",
    }
    r = client.post("/api/documents", json={"documents": [record]}, headers=auth())
    assert r.status_code == 200, r.get_data(as_text=True)

    doc = page(check(client.get("/documents/xss")))
    question = "What is the launch code of Project Zebra?"
    answer = page(check(client.get("/", query_string={"q": question})))
    home = page(check(client.get("/")))
    for text in (doc, answer, home):
        assert SCRIPT not in text and "<b>Project" not in text and "<i>Gazette" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer
    assert "javascript:" not in doc  # only http(s) links to the original


def _browser() -> dict[str, str]:
    return {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_add_documents_page_asks_for_the_token_and_files(
    client: FlaskClient, writable: Flask, check: Check
) -> None:
    text = page(check(client.get("/add")))  # no token configured: the page says so
    assert "takes no uploads" in text
    text = page(check(writable.test_client().get("/add")))
    assert "takes no uploads" not in text
    assert '<form class="upload"' in text and 'data-endpoint="/api/documents"' in text
    assert 'name="token" type="password"' in text
    assert re.search(r'<input id="files" name="files" type="file" multiple', text)
    accept = re.search(r'accept="([^"]+)"', text)
    assert accept and {".pdf", ".docx", ".html", ".txt"} <= set(accept.group(1).split(","))
    assert "<progress" in text and 'href="/add"' in text
    # the limits the page's script checks before it sends anything
    assert "Up to 10 MiB per upload." in " ".join(text.split())
    assert f'data-max-upload-bytes="{10 * 2**20}" data-max-file-bytes="{10 * 2**20}"' in text


def test_add_page_states_a_file_limit_below_the_upload_limit(
    make_app: Callable[..., Flask], check: Check
) -> None:
    text = page(check(make_app(api_token="t", max_file_bytes=2**20).test_client().get("/add")))
    assert "Up to 10 MiB per upload and 1 MiB per file." in " ".join(text.split())
    assert f'data-max-file-bytes="{2**20}"' in text


def test_seed_004_boilerplate_is_shown_as_boilerplate(client: FlaskClient, check: Check) -> None:
    text = page(check(client.get("/documents/004_ac8b6d61d6b7d856")))
    asides = " ".join(re.findall(r'<span class="aside">(.*?)</span>', text, re.S))
    assert "bookmark-bicon" in asides  # the icon line
    assert "Dear readers and commenters" in asides and "RT Team." in asides  # the comment notice
    assert "page boilerplate" in text
    body = text[text.index('<div class="doc-text">') :]
    article = re.sub(r'<span class="aside">.*?</span>', "", body, flags=re.S)
    assert "bookmark-bicon" not in article and "Dear readers" not in article
    assert "Russia, Abkhazia and South Ossetia may soon enter" in article


def test_the_api_link_opens_the_docs_page_served_from_the_package(
    client: FlaskClient, check: Check
) -> None:
    home = page(check(client.get("/")))
    assert '<a href="/docs">API</a>' in home
    text = page(check(client.get("/docs")))
    scripts = re.findall(r'<script src="([^"]+)"', text)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', text)
    # every file the page loads is this server's: Swagger UI's own, then our start-up script
    assert scripts == [
        "/static/app.js",
        "/docs/swagger-ui/swagger-ui-bundle.js",
        "/static/docs.js",
    ]
    assert styles == ["/static/style.css", "/docs/swagger-ui/swagger-ui.css"]
    assert 'data-spec="/openapi.json"' in text
    assert "<script>" not in text and "style=" not in text  # nothing inline: the CSP holds
    for url in scripts + styles:
        response = client.get(url)
        assert response.status_code == 200, url
        response.close()
    bundle = client.get("/docs/swagger-ui/swagger-ui-bundle.js")
    assert b"SwaggerUIBundle" in bundle.get_data()[:2000]
    script = client.get("/static/docs.js").get_data(as_text=True)
    assert "validatorUrl: null" in script  # no badge fetched from validator.swagger.io
    # only the two files the page needs are served from the package
    assert client.get("/docs/swagger-ui/swagger-editor-bundle.js").status_code == 404
    assert client.get("/docs/swagger-ui/..%2F__init__.py").status_code == 404
    csp = client.get("/docs").headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "'unsafe-inline'" not in csp


def test_every_page_has_an_icon(client: FlaskClient, check: Check) -> None:
    assert 'rel="icon" href="/static/favicon.svg"' in page(check(client.get("/add")))
    icon = check(client.get("/favicon.ico"))
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.get_data().startswith(b"<svg")


def test_the_page_and_the_cli_list_the_same_passages(
    client: FlaskClient, seeds_service: QAService
) -> None:
    from qa.cli import format_result

    result = seeds_service.ask(CHAIRMAN_Q)
    cli = re.findall(r"^#(\d+) \[(\S+) \d+-\d+\]", format_result(result), re.M)
    text = page(client.get("/", query_string={"q": CHAIRMAN_Q}))
    web = re.findall(r'<span class="rank">#(\d+)</span> <a href="/documents/([^?"]+)', text)
    assert cli == web and len(web) == len(result.passages) == 5
    assert "Passages retrieved (5)" in text


def test_a_document_of_one_passage_says_passage(writable: Flask, auth: Callable[..., Any]) -> None:
    client = writable.test_client()
    record = {"id": "note", "text": "The ferry leaves at nine. It comes back at noon."}
    assert (
        client.post("/api/documents", json={"documents": [record]}, headers=auth()).status_code
        == 200
    )
    text = page(client.get("/documents/note"))
    assert "· 1 passage ·" in " ".join(text.split())
    assert "1 passages" not in text
