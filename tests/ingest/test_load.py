"""Loading: every format, every way a file or line can be bad (reported, never a crash), ids,
and the rule that offsets point into the text exactly as it is on disk."""

from __future__ import annotations

import functools
import json
import os
import pickle
import pwd
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import SEEDS

from qa.ingest.clean import content_regions
from qa.ingest.load import LoadError, documents_from_records, load_documents, load_file
from qa.types import Document, LoadProblem


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def reasons(problems: list[LoadProblem]) -> dict[str, str]:
    return {p.path: p.reason for p in problems}


# -- the seeds ------------------------------------------------------------------------------------


def test_seeds_load_with_text_exactly_as_on_disk() -> None:
    docs, problems = load_documents([SEEDS])
    assert problems == []
    assert [d.id for d in docs] == sorted(p.stem for p in SEEDS.glob("*.txt"))
    by_id = {d.id: d for d in docs}
    for doc in docs:
        path = SEEDS / f"{doc.id}.txt"
        assert doc.path == str(path)
        assert doc.text == path.read_bytes().decode("utf-8")
        assert doc.content == content_regions(doc.text)
    assert by_id["000_5f0f8e843e26db9e"].date == "2024-03-17"
    assert by_id["003_ae8961adcff38b97"].source == "TASS"
    assert by_id["004_ac8b6d61d6b7d856"].source == "RT"
    assert by_id["004_ac8b6d61d6b7d856"].title.startswith("Russia, Caucasus allies")


# -- formats --------------------------------------------------------------------------------------


def test_txt_keeps_raw_text_and_path_as_given(tmp_path: Path) -> None:
    raw = " Treaty signed\r\n\r\nMOSCOW (Reuters) - The two sides signed.\r\nShare this\r\n"
    path = write(tmp_path / "story-1.txt", raw)
    docs, problems = load_documents(str(path))  # a single path is accepted as it is
    assert problems == []
    (doc,) = docs
    assert doc.id == "story-1" and doc.path == str(path)
    assert doc.text == raw  # no newline normalization, no strip
    assert doc.title == "Treaty signed" and doc.source == "Reuters"
    assert [doc.text[s:e] for s, e in doc.content] == [
        "Treaty signed\r\n\r\nMOSCOW (Reuters) - The two sides signed."
    ]


def test_markdown_title_and_bom(tmp_path: Path) -> None:
    path = write(tmp_path / "note.md", b"\xef\xbb\xbf# The heading\n\nPublished: 18 March 2014\n")
    (doc,) = load_file(path)
    assert doc.text == "# The heading\n\nPublished: 18 March 2014\n"  # BOM is not text
    assert doc.title == "The heading" and doc.date == "2014-03-18"


HTML = """<!DOCTYPE html>
<html><head><title>Treaty signed - Example News</title>
<meta property="og:site_name" content="Example News">
<meta name="author" content="Jo Smith">
<meta property="article:published_time" content="2015-03-18T10:00:00Z">
<link rel="canonical" href="https://example.com/treaty">
<style>p { color: red }</style><script>var s = "<p>not text</p>";</script></head>
<body><header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
</header>
<article><header><h1>Russia and South&nbsp;Ossetia sign a treaty</h1></header>
<p>The treaty was   signed
on Wednesday &amp; lasts 25 years, the two sides said in a joint statement after the talks.</p>
<p>A <b>second</b> paragraph says that border guards of both countries will patrol together.</p>
<p>Critics in Tbilisi called the treaty a step towards annexation of the breakaway region.</p>
<div hidden>hidden text</div>
</article><aside>Related stories</aside>
<section class="comments"><h3>2 Comments</h3><p>What a disgrace, says Bob.</p></section>
<footer>Contact the newsroom</footer>
<script>track("pageview")</script></body></html>
"""


def test_html_article_text_and_metadata_by_trafilatura(tmp_path: Path) -> None:
    (doc,) = load_file(write(tmp_path / "page.html", HTML))
    assert "The treaty was signed on Wednesday & lasts 25 years" in doc.text
    assert "border guards" in doc.text and "Critics in Tbilisi" in doc.text
    for gone in ("not text", "pageview", "Home", "hidden text", "Related", "Contact", "Bob"):
        assert gone not in doc.text
    assert doc.id == "page"
    assert doc.title == "Russia and South Ossetia sign a treaty"
    assert doc.author == "Jo Smith"
    assert doc.date == "2015-03-18" and doc.source == "Example News"
    assert doc.url == "https://example.com/treaty"
    # nothing of the extracted text is cleaned away: offsets point into what the index stores
    assert doc.content == [(0, len(doc.text))]


def test_html_without_article_text_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.html", "<html><head><title>Nothing</title></head><body></body>")
    docs, problems = load_documents([path])
    assert docs == []
    assert reasons(problems) == {str(path): "no article text found in the HTML page"}


def test_jsonl_records_lines_and_problems(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "title": "Given", "text": "Alpha text.", "url": "http://x/a"}),
        "{not json",
        json.dumps({"id": "b"}),
        json.dumps({"text": "no id"}),
        json.dumps({"id": 7, "text": "numeric id"}),
        json.dumps({"id": "c", "text": "x", "source": ["TASS"]}),
        json.dumps(["a", "list"]),
        "",
        json.dumps({"id": "a", "text": "second a"}),
        json.dumps({"id": "d#1", "text": "x"}),
        json.dumps({"id": "e", "text": "   "}),
        json.dumps({"id": "f", "text": "x", "date": "someday"}),
        json.dumps(
            {"id": "g", "text": "Headline\nMOSCOW, May 1. /TASS/. Text.", "date": "May 2, 2015"}
        ),
    ]
    path = write(tmp_path / "articles.jsonl", "\n".join(lines) + "\n")
    docs, problems = load_documents([path])
    assert [d.id for d in docs] == ["a", "g"]
    a, g = docs
    assert (a.title, a.url, a.path, a.text) == ("Given", "http://x/a", str(path), "Alpha text.")
    assert (g.title, g.source, g.date) == ("Headline", "TASS", "2015-05-02")  # extracted/normalized
    got = reasons(problems)
    p = str(path)
    assert got[f"{p}:2"].startswith("bad JSON")
    assert got[f"{p}:3"] == "missing field 'text'"
    assert got[f"{p}:4"] == "missing field 'id'"
    assert "'id' must be a string" in got[f"{p}:5"]
    assert "'source' must be a string" in got[f"{p}:6"]
    assert "expected a JSON object" in got[f"{p}:7"]
    assert "duplicate document id 'a'" in got[f"{p}:9"] and f"{p}:1" in got[f"{p}:9"]
    assert "'#'" in got[f"{p}:10"]
    assert "empty" in got[f"{p}:11"]
    assert "not a date" in got[f"{p}:12"]
    assert len(problems) == 10


def test_load_file_is_all_or_nothing_for_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path / "x.jsonl", '{"id": "a", "text": "ok"}\n{"id": "b"}\n')
    with pytest.raises(LoadError, match=r"x\.jsonl:2: missing field 'text'") as info:
        load_file(path)
    assert isinstance(info.value, ValueError)


def test_documents_from_records() -> None:
    records: list = [
        {"id": "n1", "text": "Body text.", "source": "VOV", "date": "2014-03-18"},
        {"id": "n2", "text": "Short headline\n\nMore text.", "extra": "ignored"},
        {"id": "", "text": "x"},
        "not an object",
        {"id": "n1", "text": "again"},
    ]
    docs, problems = documents_from_records(records, origin="request")
    assert [d.id for d in docs] == ["n1", "n2"]
    assert docs[0].source == "VOV" and docs[0].date == "2014-03-18" and docs[0].path is None
    assert docs[1].title == "Short headline"
    got = reasons(problems)
    assert got["request[2]"] == "empty document id"
    assert "expected a JSON object" in got["request[3]"]
    assert "duplicate" in got["request[4]"]


# -- bad files ------------------------------------------------------------------------------------


def test_bad_files_are_reported_and_skipped(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", "A real article.\n")
    write(tmp_path / "empty.txt", "")
    write(tmp_path / "blank.md", " \n\t\n")
    write(tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(tmp_path / "nul.txt", b"text\x00with a NUL")
    write(tmp_path / "latin1.txt", "café".encode("latin-1"))
    write(tmp_path / "only-furniture.txt", "Share this\nFollow us on Twitter\n")
    write(tmp_path / "bad#id.txt", "Text.")
    docs, problems = load_documents([tmp_path])
    assert [d.id for d in docs] == ["good"]
    got = {Path(k).name: v for k, v in reasons(problems).items()}
    assert got == {
        "bad#id.txt": "document id 'bad#id' contains '/', '\\' or '#'",
        "blank.md": "no text (only whitespace)",
        "empty.txt": "empty file",
        "image.txt": "not UTF-8 text (undecodable byte 0x89 at offset 0)",
        "latin1.txt": "not UTF-8 text (undecodable byte 0xe9 at offset 3)",
        "nul.txt": "binary file (contains NUL bytes), not text",
        "only-furniture.txt": "no article text: every line looks like page boilerplate",
    }


def as_nobody(fn: Callable[[], Any]) -> Any:
    """``fn()`` in a forked child running as the unprivileged user ``nobody``, its result sent
    back through a pipe: root reads any file whatever its mode, so a test of an unreadable file
    needs a user the mode applies to."""
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, run, report, and never return into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(fn(), out)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0, "the child running as nobody failed"
    return pickle.loads(data)


def test_unreadable_file_is_reported() -> None:
    folder = Path(tempfile.mkdtemp(prefix="qa-unreadable-"))
    folder.chmod(0o755)  # nobody may enter it (pytest's own tmp_path is private to this user)
    try:
        good = write(folder / "good.txt", "A real article.\n")
        secret = write(folder / "secret.txt", "Text.")
        secret.chmod(0)
        load = functools.partial(load_documents, [good, secret])
        docs, problems = as_nobody(load) if os.geteuid() == 0 else load()
    finally:
        shutil.rmtree(folder)
    assert [d.id for d in docs] == ["good"]  # the folder and its other files are readable
    assert problems == [LoadProblem(str(secret), "cannot read: permission denied")]


def test_load_file_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="empty file"):
        load_file(write(tmp_path / "empty.txt", ""))
    with pytest.raises(LoadError, match=r"unsupported file type '\.odt'"):
        load_file(write(tmp_path / "doc.odt", "x"))


def test_directories_recurse_sorted_skipping_hidden_and_other_types(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", "B text.")
    write(tmp_path / "a" / "z.md", "Z text.")
    write(tmp_path / "a" / "c.htm", "<p>C text.</p>")
    write(tmp_path / ".hidden.txt", "Hidden.")
    write(tmp_path / ".git" / "notes.txt", "Hidden folder.")
    write(tmp_path / "photo.jpg", b"\xff\xd8\xff")
    write(tmp_path / "README", "no extension")
    docs, problems = load_documents([tmp_path])
    assert problems == []
    assert [d.id for d in docs] == ["c", "z", "b"]
    assert docs[0].path == str(tmp_path / "a" / "c.htm")


def test_explicit_unknown_type_and_missing_paths_are_problems(tmp_path: Path) -> None:
    rtf = write(tmp_path / "doc.rtf", "x")
    docs, problems = load_documents([rtf, tmp_path / "missing.txt"])
    assert docs == []
    got = reasons(problems)
    assert got[str(rtf)].startswith("unsupported file type '.rtf'")
    assert got[str(tmp_path / "missing.txt")] == "no such file or directory"


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    first = write(tmp_path / "one" / "story.txt", "First version.")
    second = write(tmp_path / "two" / "story.md", "Second version.")
    docs, problems = load_documents([tmp_path / "one", tmp_path / "two"])
    assert [d.text for d in docs] == ["First version."]
    assert problems == [
        LoadProblem(str(second), f"duplicate document id 'story' (kept {first})"),
    ]


def test_long_and_control_character_ids_are_refused() -> None:
    docs, problems = documents_from_records(
        [{"id": "x" * 201, "text": "t"}, {"id": "a\tb", "text": "t"}, {"id": " a", "text": "t"}]
    )
    assert docs == []
    assert [p.reason for p in problems] == [
        "document id longer than 200 characters",
        "document id 'a\\tb' contains control characters",
        "document id ' a' starts or ends with whitespace",
    ]


def test_documents_are_plain_documents(tmp_path: Path) -> None:
    (doc,) = load_file(write(tmp_path / "t.txt", "Headline\n\nBody."))
    assert isinstance(doc, Document)
    assert doc.to_dict()["content"] == [[0, len("Headline\n\nBody.")]]
