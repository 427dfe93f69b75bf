"""Hostile and careless input through the library and the ``qa`` command (issue 14): a bad file
or line is reported by name and never costs the good ones; a bad question is a message, not a
traceback."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
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
        [
            sys.executable,
            "-m",
            "qa.cli",
            "--index-dir",
            str(seeds_index_dir),
            "ask",
            b"Who is the \xff chairman?",
        ],
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


def test_index_refuses_a_huge_file_by_its_size_unread_and_indexes_the_others(
    tmp_path: Path,
) -> None:
    """``qa index`` on a good file and a 1 GiB one (sparse: instant to make): the huge file is
    reported by name and size, the good one indexed, and the run never holds the huge file (its
    peak memory stays below the file's size; reading it would take more than that alone)."""
    limit = 2**30
    good = tmp_path / "good.txt"
    good.write_text("Lights\n\nThe keeper of Port Ellery is Tomas Brandvold.\n")
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(limit + 1)
    measure = (
        "import json, resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
        "print(json.dumps({'rc': p.returncode, 'out': p.stdout, 'err': p.stderr, 'peak': peak}))"
    )
    command = [sys.executable, "-m", "qa.cli", "--index-dir", str(tmp_path / "index"), "index"]
    proc = subprocess.run(
        [sys.executable, "-c", measure, *command, str(good), str(huge)],
        cwd=ROOT,
        env={**os.environ, "QA_MAX_FILE_BYTES": str(limit)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    run = json.loads(proc.stdout)
    assert run["rc"] == 0, run["err"]
    assert "added 1," in run["out"]
    assert (
        f"skipped {huge}: file of {limit + 1:,} bytes; the limit is {limit:,} (QA_MAX_FILE_BYTES)"
        in run["err"]
    )
    assert run["peak"] < limit, f"peak RSS {run['peak']:,} bytes"


def test_file_limit_counts_what_is_read_when_the_size_is_unknown(
    seeds_service: QAService, tmp_path: Path
) -> None:
    """A pipe says it holds 0 bytes: it is read up to the limit and one byte more, then refused;
    a file of exactly the limit is indexed; rebuilds apply the limit too."""
    limit = 10_000
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    exact = "Lights\n\nThe keeper of Port Ellery is Tomas Brandvold. "
    (corpus / "exact.txt").write_text(exact + "x" * (limit - len(exact)))
    with (corpus / "over.txt").open("wb") as f:
        f.truncate(limit + 1)
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)

    def write_pipe() -> None:
        with contextlib.suppress(BrokenPipeError), pipe.open("wb") as f:
            f.write(b"The tides rise twice a day. " * 2000)  # 56,000 bytes

    writer = threading.Thread(target=write_pipe, daemon=True)
    writer.start()
    settings = Settings(index_dir=tmp_path / "index", corpus=[corpus], max_file_bytes=limit)
    svc = QAService(settings, embedder=seeds_service.embedder, reader=seeds_service.reader)
    try:
        report = svc.index([corpus, pipe])
        writer.join(timeout=10)
        assert report.added == ["exact"]
        problems = {Path(p.path).name: p.reason for p in report.problems}
        assert problems["over.txt"].startswith(f"file of {limit + 1:,} bytes; the limit is 10,000")
        assert problems["pipe.txt"].startswith("file of over 10,000 bytes; the limit is 10,000")
        report = svc.rebuild([corpus])
        assert report.added == ["exact"] and [Path(p.path).name for p in report.problems] == [
            "over.txt"
        ]
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
