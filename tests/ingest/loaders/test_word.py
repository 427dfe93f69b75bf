"""Word (.docx) loading on files the tests write themselves (python-docx), broken ones included."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx

from qa.ingest.load import load_documents, load_file


def make_docx(path: Path) -> Path:
    document = docx.Document()
    document.core_properties.title = "Council approves tram line"
    document.core_properties.author = "Kees de Wit"
    document.add_heading("Council approves tram line", level=1)
    document.add_paragraph("The council voted 31 to 12 on Thursday to build the line.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Stops", "11"
    table.cell(1, 0).text, table.cell(1, 1).text = "Length", "6.4 km"
    document.add_paragraph("Construction begins next spring.")
    document.save(str(path))
    return path


def test_paragraphs_and_tables_in_order_with_properties(tmp_path: Path) -> None:
    (doc,) = load_file(make_docx(tmp_path / "tram.docx"))
    assert doc.id == "tram"
    assert doc.text == (
        "Council approves tram line\n"
        "The council voted 31 to 12 on Thursday to build the line.\n"
        "Stops | 11\nLength | 6.4 km\n"
        "Construction begins next spring."
    )
    assert doc.title == "Council approves tram line" and doc.author == "Kees de Wit"
    start = doc.text.index("31 to 12")
    assert doc.text[start : start + 8] == "31 to 12"


def test_broken_and_empty_word_files_are_problems(tmp_path: Path) -> None:
    make_docx(tmp_path / "good.docx")
    not_zip = tmp_path / "not-zip.docx"
    not_zip.write_bytes(b"PK\x03\x04 truncated")
    wrong_zip = tmp_path / "wrong-zip.docx"
    with zipfile.ZipFile(wrong_zip, "w") as z:
        z.writestr("hello.txt", "a zip file, but no Word document in it")
    empty = tmp_path / "empty.docx"
    docx.Document().save(str(empty))
    docs, problems = load_documents([tmp_path])
    assert [d.id for d in docs] == ["good"]
    reasons = {p.path: p.reason for p in problems}
    assert reasons[str(not_zip)].startswith("broken Word file")
    assert reasons[str(wrong_zip)].startswith("broken Word file")
    assert reasons[str(empty)] == "no text in the Word file"
