"""PDF loading on files the tests write themselves (fpdf2): pages kept, metadata read, and every
way a PDF can give no text reported with its path while the other files still load."""

from __future__ import annotations

from pathlib import Path

from support import make_pdf

from qa.ingest.load import load_documents, load_file
from qa.text.pages import page_at, page_starts

PAGE_ONE = "The harbour council met on Monday to discuss the new tram line."
PAGE_TWO = "Work on the tram line will start in the spring of next year."


def test_pages_metadata_and_offsets(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "council.pdf", [PAGE_ONE, PAGE_TWO], title="Tram line", author="Jo Smith"
    )
    (doc,) = load_file(path)
    assert doc.id == "council" and doc.title == "Tram line" and doc.author == "Jo Smith"
    assert doc.content == [(0, len(doc.text))]
    starts = page_starts(doc.text)
    assert len(starts) == 2
    for page, sentence in ((1, PAGE_ONE), (2, PAGE_TWO)):
        start = doc.text.index(sentence)
        assert doc.text[start : start + len(sentence)] == sentence
        assert page_at(starts, start) == page


def test_pdf_locked_only_against_editing_still_loads(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "locked.pdf", [PAGE_ONE], user_password="")
    (doc,) = load_file(path)
    assert PAGE_ONE in doc.text


def test_encrypted_scanned_and_broken_pdfs_are_problems_and_others_load(tmp_path: Path) -> None:
    make_pdf(tmp_path / "good.pdf", [PAGE_ONE])
    secret = make_pdf(tmp_path / "secret.pdf", [PAGE_ONE], user_password="hunter2")
    scan = make_pdf(tmp_path / "scan.pdf", ["", ""])
    broken = tmp_path / "broken.pdf"
    broken.write_bytes((tmp_path / "good.pdf").read_bytes()[:300])  # cut off mid-file
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.7\nthis is not a PDF at all\n")
    (tmp_path / "note.txt").write_text("A plain note about the tram line.\n")
    docs, problems = load_documents([tmp_path])
    assert sorted(d.id for d in docs) == ["good", "note"]
    reasons = {p.path: p.reason for p in problems}
    assert set(reasons) == {str(secret), str(scan), str(broken), str(garbage)}
    assert reasons[str(secret)] == "encrypted PDF: it needs a password"
    assert reasons[str(scan)].startswith("no text layer in the PDF")
    assert reasons[str(broken)].startswith("broken PDF")
    assert reasons[str(garbage)].startswith("broken PDF")


def test_a_pdf_answer_cites_its_page(tmp_path: Path) -> None:
    """Through the whole service: a passage and the answer's citation carry the page they are on,
    and every offset slices the stored (extracted) text."""
    from qa.service import QAService
    from qa.settings import Settings

    pages = [
        "The harbour council met on Monday. " * 3 + "The meeting was long and heated.",
        "The mayor of the harbour town is Lena Vos. She was elected in 2021.",
    ]
    (tmp_path / "docs").mkdir()
    make_pdf(tmp_path / "docs" / "harbour.pdf", pages)
    svc = QAService(Settings(index_dir=tmp_path / "index", corpus=[tmp_path / "docs"]))
    try:
        report = svc.index()
        assert report.added == ["harbour"] and not report.problems
        text = svc.store.get_document("harbour").text
        result = svc.ask("Who is the mayor of the harbour town?", top_k=3)
        assert result.passages and all(p.page in (1, 2) for p in result.passages)
        for p in result.passages:
            assert text[p.start : p.end] == p.text
            assert p.page == page_at(page_starts(text), p.start)
        assert result.answer is not None and "Lena Vos" in result.answer.text
        (citation,) = result.answer.citations
        assert citation.page == 2
        assert text[citation.start : citation.end] == result.answer.text
    finally:
        svc.close()
