"""Sentence-aware chunking with exact character offsets.

Chunks are runs of whole sentences that fit the embedder's window (counted in its own word
pieces), with the last ``overlap`` sentences of a chunk repeated at the start of the next so an
answer near a boundary is seen whole by at least one chunk. A sentence longer than the window
becomes a chunk of its own: cutting it would hand the reader half a sentence. Only a "sentence"
no prose has (``MAX_SENTENCE_CHARS``: a table flattened to one line, a pasted blob) is cut, at
spaces, so that no chunk grows with the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qa.text.sentences import sentence_spans_many
from qa.types import Chunk, Document, LoadProblem

TokenCounter = Callable[[list[str]], list[int]]

#: longer "sentences" are cut (see the module docstring); prose sentences are far shorter
MAX_SENTENCE_CHARS = 2000
#: sentences whose word pieces are counted in one call, to bound the tokenizer's memory
COUNT_BATCH = 1024


def split_oversized(
    docs: list[Document], max_chars: int
) -> tuple[list[Document], list[LoadProblem]]:
    """``docs`` without those longer than ``max_chars``, and a problem for each of those: the
    work and memory to chunk and embed a document grow with it, so one huge file must not hold
    up (or exhaust) a whole indexing run."""
    kept: list[Document] = []
    problems: list[LoadProblem] = []
    for doc in docs:
        if len(doc.text) > max_chars:
            reason = (
                f"document {doc.id!r} has {len(doc.text):,} characters; the limit is "
                f"{max_chars:,} (QA_MAX_DOCUMENT_CHARS): split it into smaller documents"
            )
            problems.append(LoadProblem(doc.path or doc.id, reason))
        else:
            kept.append(doc)
    return kept, problems


def merge_regions(text: str, regions: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join content regions separated only by whitespace: a chunk may run across paragraphs, but
    never across boilerplate that cleaning dropped (its text would land inside the chunk)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(regions):
        if merged and not text[merged[-1][1] : start].strip():
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def chunk_document(
    doc: Document,
    count_tokens: TokenCounter,
    max_tokens: int = 256,
    overlap: int = 1,
) -> list[Chunk]:
    return chunk_documents([doc], count_tokens, max_tokens, overlap)[0]


def chunk_documents(
    docs: Sequence[Document],
    count_tokens: TokenCounter,
    max_tokens: int = 256,
    overlap: int = 1,
) -> list[list[Chunk]]:
    """``chunk_document`` of each document, with the sentences of all of them segmented and
    counted together (spaCy and the tokenizer are much faster on batches than one by one)."""
    if max_tokens < 8:
        raise ValueError("max_tokens must be at least 8")
    if overlap < 0:
        raise ValueError("overlap must be >= 0")
    regions = [(k, r) for k, doc in enumerate(docs) for r in merge_regions(doc.text, doc.content)]
    found = sentence_spans_many([(docs[k].text, start, end) for k, (start, end) in regions])
    sentences = [
        _cut_long(docs[k].text, spans) for (k, _), spans in zip(regions, found, strict=True)
    ]
    # Tokens between sentences (a space, a newline) are not counted; the estimate errs by a
    # token or two per sentence at most, which the 2 special tokens' headroom absorbs.
    texts = [
        docs[k].text[s:e]
        for (k, _), spans in zip(regions, sentences, strict=True)
        for s, e in spans
    ]
    counts: list[int] = []
    for i in range(0, len(texts), COUNT_BATCH):
        counts += count_tokens(texts[i : i + COUNT_BATCH])
    out: list[list[Chunk]] = [[] for _ in docs]
    position = 0
    for (k, _), spans in zip(regions, sentences, strict=True):
        sizes = counts[position : position + len(spans)]
        position += len(spans)
        doc, chunks = docs[k], out[k]
        for first, last in _windows(sizes, max_tokens - 2, overlap):
            s, e = spans[first][0], spans[last][1]
            chunks.append(Chunk(doc.id, len(chunks), s, e, doc.text[s:e]))
    return out


def _cut_long(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` with each one over ``MAX_SENTENCE_CHARS`` cut at its last space before the limit
    (hard at the limit when there is none)."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        while e - s > MAX_SENTENCE_CHARS:
            limit = s + MAX_SENTENCE_CHARS
            cut = text.rfind(" ", s + 1, limit)
            if cut <= s:
                cut = limit
            end = cut
            while end > s and text[end - 1].isspace():
                end -= 1
            out.append((s, end))
            s = cut
            while s < e and text[s].isspace():
                s += 1
        if e > s:
            out.append((s, e))
    return out


def _windows(sizes: list[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy ``[first, last]`` sentence windows whose token sum fits ``budget``."""
    windows: list[tuple[int, int]] = []
    first = 0
    n = len(sizes)
    while first < n:
        last = first
        total = sizes[first]
        while last + 1 < n and total + sizes[last + 1] <= budget:
            last += 1
            total += sizes[last]
        windows.append((first, last))
        if last + 1 >= n:
            break
        # Step back ``overlap`` sentences, but always make progress and keep the overlap from
        # eating the whole next window.
        nxt = max(last + 1 - overlap, first + 1)
        while nxt <= last and sum(sizes[nxt : last + 2]) > budget:
            nxt += 1
        first = nxt
    return windows
