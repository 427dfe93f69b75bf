"""Candidate spans grouped by the answer they state: the reader scores each meaning as a whole,
and citing shows each meaning once.

Candidates are grouped when one's SQuAD-normalized words contain the other's ("Stoltenberg" in
"General Jens Stoltenberg", "the USSR" and "USSR") or when they overlap in the same passage.
"""

from __future__ import annotations

from collections.abc import Sequence

from qa.text.normalize import contains_words, normalize_answer
from qa.types import Span


def group_by_meaning(spans: Sequence[Span]) -> list[list[Span]]:
    """Spans that state one answer, grouped; groups and their members keep the input order, so
    with spans given best first, each group's first span is its best and groups come best first.

    A span joins the first group that has a member whose words contain its words or are contained
    in them, or a member it overlaps in the same document. Spans whose normalized text is empty
    (punctuation, a lone article) are dropped. Spans that a reader already grouped (``meaning``
    set) keep the reader's grouping, since it scored each meaning as a whole."""
    if spans and all(s.meaning >= 0 for s in spans):
        by_meaning: dict[int, list[Span]] = {}
        for s in spans:
            if normalize_answer(s.text):
                by_meaning.setdefault(s.meaning, []).append(s)
        return list(by_meaning.values())
    groups: list[list[Span]] = []
    words: list[list[list[str]]] = []
    for span in spans:
        toks = normalize_answer(span.text).split()
        if not toks:
            continue
        for group, group_words in zip(groups, words, strict=True):
            if any(
                (m.doc_id == span.doc_id and m.start < span.end and span.start < m.end)
                or contains_words(w, toks)
                or contains_words(toks, w)
                for m, w in zip(group, group_words, strict=True)
            ):
                group.append(span)
                group_words.append(toks)
                break
        else:
            groups.append([span])
            words.append([toks])
    return groups
