"""Uploading PDF, Word and HTML files over the API: the report, page numbers in citations, and a
bad upload that leaves the index exactly as it was."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import docx
from flask import Flask
from support import make_pdf
from werkzeug.test import TestResponse

Check = Callable[[TestResponse], TestResponse]
Auth = Callable[..., dict[str, str]]

PDF_PAGES = [
    "The harbour council met on Monday. The meeting was long and heated.",
    "The lighthouse keeper of Port Ellery is Tomas Brandvold. He has kept the light since 1998.",
]
HTML = (
    "<html><head><title>Tram news</title><meta property='og:site_name' content='Harbour Times'>"
    "</head><body><nav><a>Home</a> <a>Sport</a></nav><article><h1>Tram line approved</h1>"
    "<p>The city council voted on Thursday to build a tram line to the harbour district.</p>"
    "<p>Construction of the tram line is due to begin next spring and last two years.</p>"
    "</article><footer>Contact us</footer></body></html>"
)


def word_file() -> bytes:
    document = docx.Document()
    document.add_paragraph("Ferry timetable changes")
    document.add_paragraph("From May the night ferry to Skerry Island leaves at 23:40.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def upload(app: Flask, auth: Auth, files: list[tuple[bytes, str]]) -> TestResponse:
    return app.test_client().post(
        "/api/documents",
        data={"files": [(io.BytesIO(data), name) for data, name in files]},
        content_type="multipart/form-data",
        headers=auth(),
    )


def test_upload_pdf_word_and_html_then_cite_the_pdf_page(
    writable: Flask, check: Check, auth: Auth, tmp_path: Path
) -> None:
    pdf = make_pdf(tmp_path / "harbour.pdf", PDF_PAGES).read_bytes()
    files = [(pdf, "harbour.pdf"), (word_file(), "ferry.docx"), (HTML.encode(), "tram.html")]
    r = check(upload(writable, auth, files))
    report = r.get_json()
    assert sorted(report["added"]) == ["ferry", "harbour", "tram"]
    assert report["replaced"] == [] and report["unchanged"] == [] and report["problems"] == []

    client = writable.test_client()
    tram = client.get("/api/documents/tram").get_json()
    assert "Home" not in tram["text"] and "Contact" not in tram["text"]
    assert tram["title"] == "Tram line approved" and tram["source"] == "Harbour Times"

    body = {"question": "Who is the lighthouse keeper of Port Ellery?"}
    result = check(client.post("/api/ask", json=body)).get_json()
    text = client.get("/api/documents/harbour").get_json()["text"]
    answer = result["answer"]
    assert answer and "Tomas Brandvold" in answer["text"] and answer["doc_id"] == "harbour"
    assert text[answer["start"] : answer["end"]] == answer["text"]
    assert answer["citations"][0]["page"] == 2
    passages = [p for p in result["passages"] if p["doc_id"] == "harbour"]
    assert passages and all(p["page"] in (1, 2) for p in passages)
    assert all(p["page"] is None for p in result["passages"] if p["doc_id"] != "harbour")

    # the same files again: nothing to do; a changed file replaces its document
    again = check(upload(writable, auth, files[:2])).get_json()
    assert sorted(again["unchanged"]) == ["ferry", "harbour"] and again["added"] == []
    edited = HTML.replace("next spring", "next autumn").encode()
    assert check(upload(writable, auth, [(edited, "tram.html")])).get_json()["replaced"] == ["tram"]


def test_a_bad_file_refuses_the_upload_and_loses_nothing(
    writable: Flask, check: Check, auth: Auth, tmp_path: Path
) -> None:
    client = writable.test_client()
    before = client.get("/api/documents").get_json()
    seed = client.get("/api/documents/000_5f0f8e843e26db9e").get_json()
    secret = make_pdf(tmp_path / "s.pdf", PDF_PAGES, user_password="pw").read_bytes()
    scan = make_pdf(tmp_path / "scan.pdf", [""]).read_bytes()
    for bad, name, reason in (
        (secret, "secret.pdf", "encrypted PDF"),
        (scan, "scan.pdf", "no text layer"),
        (b"%PDF-1.4 garbage", "broken.pdf", "broken PDF"),
        (b"PK\x03\x04 nope", "broken.docx", "broken Word file"),
    ):
        # a good file replacing a seed document goes with the bad one, so nothing may change
        good = (b"Replaced text that must never be stored.", "000_5f0f8e843e26db9e.txt")
        r = check(upload(writable, auth, [good, (bad, name)]))
        assert r.status_code == 400
        error = r.get_json()["error"]
        assert name in error["message"] and reason in error["message"]
        # and one by one, for the "Add documents" page to list without parsing the message
        (problem,) = error["problems"]
        assert problem["path"] == name and reason in problem["reason"]
    assert client.get("/api/documents").get_json() == before
    assert client.get("/api/documents/000_5f0f8e843e26db9e").get_json() == seed
