from __future__ import annotations

import itertools

import pytest

from qa.index.chunk import MAX_SENTENCE_CHARS, _windows, chunk_document, merge_regions
from qa.index.embed import Embedder
from qa.settings import Settings
from qa.text.sentences import sentence_spans
from qa.types import Document


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(Settings().embed_model)


def test_chunks_slice_the_document_exactly_and_fit_the_window(embedder, seeds_text):
    for doc_id, text in seeds_text.items():
        doc = Document(doc_id, text)
        chunks = chunk_document(doc, embedder.count_tokens, max_tokens=128, overlap=1)
        assert len(chunks) >= 2
        for i, c in enumerate(chunks):
            assert c.index == i and c.doc_id == doc_id
            assert text[c.start : c.end] == c.text
            assert c.text == c.text.strip()
        sizes = embedder.count_tokens([c.text for c in chunks])
        # only a single over-long sentence may exceed the budget
        for c, n in zip(chunks, sizes, strict=True):
            assert n <= 126 or len(sentence_spans(c.text)) == 1


def test_chunks_never_cut_a_sentence(embedder, seeds_text):
    text = seeds_text["002_2d6e83c6a40a146a"]
    boundaries = {s for s, _ in sentence_spans(text)} | {e for _, e in sentence_spans(text)}
    for c in chunk_document(Document("d", text), embedder.count_tokens, max_tokens=64):
        assert c.start in boundaries and c.end in boundaries


def test_consecutive_chunks_overlap_by_a_sentence(embedder, seeds_text):
    text = seeds_text["003_ae8961adcff38b97"]
    chunks = chunk_document(Document("d", text), embedder.count_tokens, max_tokens=96, overlap=1)
    overlapping = sum(1 for a, b in itertools.pairwise(chunks) if b.start < a.end)
    assert overlapping >= len(chunks) // 2
    assert all(b.start > a.start for a, b in itertools.pairwise(chunks))
    no_overlap = chunk_document(Document("d", text), embedder.count_tokens, 96, overlap=0)
    assert all(b.start >= a.end for a, b in itertools.pairwise(no_overlap))


def test_chunks_do_not_cross_dropped_boilerplate(embedder):
    text = "First real sentence here. Second one.\nSHARE THIS ICON FM\nThird sentence follows."
    cut = text.index("SHARE")
    content = [(0, cut - 1), (text.index("Third"), len(text))]
    chunks = chunk_document(Document("d", text, content=content), embedder.count_tokens, 256)
    assert [c.text for c in chunks] == [
        "First real sentence here. Second one.",
        "Third sentence follows.",
    ]


def test_merge_regions_joins_only_across_whitespace():
    text = "aaa\n\nbbb XX ccc"
    assert merge_regions(text, [(0, 3), (5, 8)]) == [(0, 8)]
    assert merge_regions(text, [(0, 3), (12, 15)]) == [(0, 3), (12, 15)]


def test_windows_progress_even_with_oversized_sentences():
    assert _windows([10, 300, 10, 10], budget=50, overlap=1) == [(0, 0), (1, 1), (2, 3)]
    assert _windows([5, 5, 5, 5], budget=10, overlap=1) == [(0, 1), (1, 2), (2, 3)]


def test_bad_chunk_settings_are_rejected(embedder):
    with pytest.raises(ValueError):
        chunk_document(Document("d", "Text."), embedder.count_tokens, max_tokens=2)
    with pytest.raises(ValueError):
        chunk_document(Document("d", "Text."), embedder.count_tokens, overlap=-1)


def test_empty_and_whitespace_documents_give_no_chunks(embedder):
    assert chunk_document(Document("d", "   \n\n  "), embedder.count_tokens) == []


def test_a_line_over_spacys_limit_is_chunked_with_exact_offsets():
    """spaCy refuses more than 1,000,000 characters at once (E088); a file with such a line used
    to abort the whole indexing run (issue 14, finding 3)."""
    line = "The council met again on Tuesday and voted on the budget. " * 18_000
    blob = "x" * 50_000  # no sentence end and no space: cut hard
    text = f"Title\n\n{line}{blob} and then the end.\nLast line.\n"
    assert len(line) > 1_000_000
    doc = Document("big", text)
    chunks = chunk_document(doc, lambda xs: [len(x) // 4 for x in xs], max_tokens=256)
    assert all(text[c.start : c.end] == c.text and c.text for c in chunks)
    assert max(len(c.text) for c in chunks) <= MAX_SENTENCE_CHARS
    assert chunks[0].text.startswith("Title") and chunks[-1].text.endswith("Last line.")
    covered = "".join(c.text for c in chunks)
    assert covered.count("budget") >= 18_000  # nothing dropped (overlap repeats some)
