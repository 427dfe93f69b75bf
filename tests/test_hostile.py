"""Hostile and careless input through the library and the ``qa`` command (issue 14): a bad file
or line is reported by name and never costs the good ones; a bad question is a message, not a
traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import CHAIRMAN_Q, ROOT

from qa.errors import BadInput
from qa.service import QAService
from qa.settings import Settings
from qa.types import Filters


def test_qa_ask_with_an_undecodable_byte_prints_an_error_not_a_traceback(
    seeds_index_dir: Path,
) -> None:
    # the shell passes bytes; Python turns \xff into the lone surrogate \udcff
    proc = subprocess.run(
        [sys.executable, "-m", "qa.cli", "--index-dir", str(seeds_index_dir), "ask",
         b"Who is the \xff chairman?"],
        cwd=ROOT,
        capture_output=True,
        timeout=600,
    )
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert "question" in stderr and "surrogate" in stderr


def test_index_reports_bad_lines_and_huge_documents_and_keeps_the_good_files(
    seeds_service: QAService, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Lights\n\nThe keeper of Port Ellery is Tomas Brandvold.\n")
    lines = [
        {"id": "tides", "text": "Tides in the bay rise twice a day."},
        {"id": "broken", "text": "A lone \ud800 surrogate."},
        {"id": "after", "text": "The line after a broken one still counts."},
    ]
    (corpus / "mixed.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=True) for r in lines) + "\n", encoding="utf-8"
    )
    line = "The council met again on Tuesday. " * 35_300  # one line of 1,200,200 characters
    (corpus / "huge.txt").write_text("Huge\n\n" + line + "\n")
    settings = Settings(index_dir=tmp_path / "index", corpus=[corpus], max_document_chars=500_000)
    svc = QAService(settings, embedder=seeds_service.embedder, reader=seeds_service.reader)
    try:
        report = svc.index()
        assert sorted(report.added) == ["after", "good", "tides"]
        problems = {Path(p.path).name: p.reason for p in report.problems}
        assert "surrogate" in problems["mixed.jsonl:2"]
        assert "1,200,207 characters; the limit is 500,000" in problems["huge.txt"]
        assert "QA_MAX_DOCUMENT_CHARS" in problems["huge.txt"]
        assert {d.id for d in svc.documents()} == {"after", "good", "tides"}
    finally:
        svc.close()


def test_filters_refuse_what_would_silently_match_nothing() -> None:
    for bad in ({"date_from": "yesterday"}, {"date_to": "2024-13-45"}, {"date_from": "2024"}):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            Filters.from_dict(bad)
    with pytest.raises(ValueError, match="limit is 1000"):
        Filters.from_dict({"doc_ids": ["a"] * 1001})
    assert Filters.from_dict({"date_from": "2024-02-29"}).date_from == "2024-02-29"


def test_library_refuses_a_lone_surrogate_question(seeds_service: QAService) -> None:
    with pytest.raises(BadInput, match="surrogate"):
        seeds_service.search("who \udcff is it")
    assert seeds_service.search(CHAIRMAN_Q, top_k=1)
