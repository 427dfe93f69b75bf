"""Property tests (hypothesis) for loading, cleaning and chunking: whatever a file holds
(arbitrary Unicode, nothing, binary garbage, another encoding, lone surrogates in jsonl, huge
lines), loading never raises, it reports what it cannot use, and every region and chunk offset
slices the text exactly. Example counts are bounded so the file runs in seconds."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.index.chunk import MAX_SENTENCE_CHARS, chunk_document
from qa.ingest.clean import content_regions
from qa.ingest.load import load_documents
from qa.types import Document

PROPERTY = settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

#: text as articles and hostile files have it: any code point but surrogates (which a decoded
#: file cannot hold), biased towards words, spaces, punctuation and line breaks
ARTICLE_TEXT = st.lists(
    st.one_of(
        st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
        st.sampled_from(["The council met. ", "\n", "\n\n", "  ", "Mr. Smith said: ", "?! ", "\t"]),
    ),
    max_size=30,
).map("".join)


def word_pieces(texts: list[str]) -> list[int]:
    """A cheap stand-in for the embedder's tokenizer: chunking only needs a size per text."""
    return [len(t.split()) + len(t) // 6 for t in texts]


def check_document(doc: Document) -> None:
    assert doc.id and doc.text.strip()
    for start, end in doc.content:
        assert 0 <= start < end <= len(doc.text)
    chunks = chunk_document(doc, word_pieces, max_tokens=64, overlap=1)
    for i, chunk in enumerate(chunks):
        assert chunk.index == i
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text


def load_bytes(data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        docs, problems = load_documents([path])
    assert len(docs) + len(problems) >= 1  # the file was either used or reported
    for problem in problems:
        assert problem.reason
    for doc in docs:
        check_document(doc)


@PROPERTY
@given(ARTICLE_TEXT)
def test_cleaning_keeps_regions_inside_the_text(text: str) -> None:
    regions = content_regions(text)
    previous_end = 0
    for start, end in regions:
        assert previous_end <= start < end <= len(text)
        previous_end = end


@PROPERTY
@given(ARTICLE_TEXT)
def test_chunks_slice_any_text_exactly(text: str) -> None:
    if not text.strip():
        return
    check_document(Document("doc", text, content=content_regions(text) or [(0, len(text))]))


@PROPERTY
@given(
    ARTICLE_TEXT,
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]),
    st.sampled_from(["a.txt", "a.md", "a.html"]),
)
def test_any_file_in_any_encoding_loads_or_is_reported(text: str, encoding: str, name: str) -> None:
    load_bytes(text.encode(encoding, errors="replace"), name)


@PROPERTY
@given(st.binary(max_size=2000), st.sampled_from(["a.txt", "a.jsonl", "a.html", "a.md"]))
def test_binary_garbage_loads_or_is_reported(data: bytes, name: str) -> None:
    load_bytes(data, name)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),  # text() includes lone surrogates
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@PROPERTY
@given(
    st.lists(
        st.one_of(
            st.fixed_dictionaries({"id": st.text(min_size=1, max_size=20), "text": st.text()}),
            st.dictionaries(st.sampled_from(["id", "text", "title", "date", "url"]), JSON_VALUES),
            JSON_VALUES,
        ),
        max_size=6,
    )
)
def test_jsonl_lines_of_any_json_load_or_are_reported_by_line(records: list[object]) -> None:
    good = {"id": "good", "text": "A perfectly ordinary article about tides."}
    lines = [json.dumps(r, ensure_ascii=True) for r in [good, *records]]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        docs, problems = load_documents([path])
    assert docs[0].id == "good"  # one bad line never costs the others
    assert len(docs) + len(problems) == len(lines)
    assert all(p.path.startswith(f"{path}:") for p in problems)
    for doc in docs:
        doc.text.encode("utf-8")  # nothing that is not text gets through
        check_document(doc)


@settings(max_examples=5, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.integers(min_value=1, max_value=5 * MAX_SENTENCE_CHARS), st.sampled_from(["x", "ab "]))
def test_a_huge_line_is_chunked_into_bounded_pieces(length: int, unit: str) -> None:
    line = (unit * length)[:length]
    if not line.strip():
        return
    doc = Document("huge", f"Title\n\n{line}\nEnd.\n")
    chunks = chunk_document(doc, word_pieces, max_tokens=64, overlap=1)
    assert chunks and all(len(c.text) <= MAX_SENTENCE_CHARS for c in chunks)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
