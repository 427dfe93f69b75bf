"""Mark which parts of an article are article text; everything else is page furniture.

Scraped news pages carry boilerplate around the story: runs of icon names from a toolbar, share
and comment widgets, copyright lines, a comment-system notice at the end, a headline or caption
printed twice. Indexing it wastes chunks and lets a "Facebook Comments" line become an answer.

Cleaning never rewrites the text. It works line by line and returns the ``[start, end)`` regions
to keep, so every offset a later stage produces still points into the file as it is on disk. The
rules are about the *shape* of a line (length, punctuation, case, what share of its words are
interface words), never about particular strings, and each rule errs towards keeping a line: a
short real sentence or heading lost is worse than a widget kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.ingest.metadata import labelled_date

KEEP = "keep"


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# -- vocabularies -------------------------------------------------------------------------------

#: words that alone make up share/comment/navigation widgets ("Facebook Comments", "All news")
UI_WORDS = _words(
    "facebook twitter instagram youtube linkedin whatsapp telegram reddit pinterest tumblr "
    "vk rss email e-mail mail print share shares shared tweet tweets comment comments menu "
    "home search login logout signin signup register subscribe subscription newsletter news "
    "tags tag related next previous prev back top more advertisement advertising ad ads "
    "sponsored video videos photo photos gallery bookmark bookmarks like likes follow reply "
    "replies permalink trending popular latest article articles story stories page post link"
)
#: glue words that may sit between UI words without making a line prose
_GLUE = _words("all the a an on us me this to for of and in with our your here now via")
#: interface phrases; a short line made of these and UI words only is a widget
_UI_PHRASE = re.compile(
    r"""\b(?:click\s+here|tap\s+here|read\s+more|read\s+the\s+full|continue\s+reading|see\s+also
    |share\s+(?:this|on|via|article|story)|follow\s+(?:us|me)|sign\s+(?:in|up)|log\s?(?:in|out)
    |subscribe|newsletter|(?:all|more|latest|top)\s+(?:news|stories)
    |related\s+(?:articles?|stories|news|content|posts)|(?:reuse|reprint)s?\s+(?:options|rights)
    |leave\s+a\s+(?:comment|reply)|\d+\s+comments?|(?:view|show|hide|no)\s+comments
    |skip\s+to\s+(?:main\s+)?content|back\s+to\s+top|sponsored\s+content|all\s+rights\s+reserved
    )\b""",
    re.IGNORECASE | re.VERBOSE,
)
_COPYRIGHT_LINE = re.compile(r"^(?:copyright\b|©|\(c\)\s*\d{4})", re.IGNORECASE)
#: comment-system and account vocabulary: dense in a site notice, rare in news prose
_NOTICE_TERM = re.compile(
    r"""\b(?:comment(?:s|ers?|ing)?|comment\s+section|log\s?(?:in|out)|sign(?:ed|ing)?\s+(?:up|in)
    |profiles?|accounts?|register(?:ed)?|registration|moderat\w+|inconvenience|readers
    |technical\s+(?:problems?|issues?|difficulties)|disqus|username|password|community\s+guidelines
    |terms\s+of\s+(?:use|service)|privacy\s+policy|cookies?)\b""",
    re.IGNORECASE | re.VERBOSE,
)
_ADDRESS = re.compile(r"\b(?:we|our|us|you|your|dear)\b", re.IGNORECASE)
_SIGN_OFF = re.compile(
    r"^(?:(?:the\s+)?[\w .&'’-]{1,30}\s(?:team|editors|staff|newsroom|moderators?)"
    r"|(?:kind\s+)?regards|sincerely|thanks|thank\s+you)[.,!\s]*$",
    re.IGNORECASE,
)
#: tokens of an icon font / toolbar: "cameraicon", "bookmark-bicon", "icon", "btn-share"
_ICON_TOKEN = re.compile(r"(?:icon|ico|btn|svg|glyph)$|^(?:icon|ico|btn|glyph)", re.IGNORECASE)
_FUNCTION_WORDS = _words(
    "the a an of to in on at for and or but is are was were be been has have had it its "
    "that this with by from as not he she they we you i will would can could which who"
)
_SENTENCE_PUNCT = re.compile(r"[.!?;:,\"“”]")
_WORD = re.compile(r"[\w'’-]+")

MAX_WIDGET_WORDS = 10
MAX_WIDGET_CHARS = 100
NOTICE_MAX_LINES = 5  # a site notice is a few paragraphs at the very end
NOTICE_MAX_SHARE = 0.4  # ...and never most of the article


@dataclass
class Line:
    start: int  # offsets of the line with surrounding whitespace trimmed
    end: int
    text: str
    verdict: str = KEEP  # KEEP or the name of the rule that dropped it


def _lines(text: str) -> list[Line]:
    out = []
    for m in re.finditer(r"[^\r\n]+", text):
        raw = m.group()
        lead = len(raw) - len(raw.lstrip())
        stripped = raw.strip()
        if stripped:
            start = m.start() + lead
            out.append(Line(start, start + len(stripped), stripped))
    return out


# -- line rules -----------------------------------------------------------------------------------


def is_ui_token_line(line: str) -> bool:
    """A toolbar dumped as text: many icon-named tokens, or a run of short lowercase words with no
    punctuation and almost no function words (prose of that length always has some)."""
    tokens = line.split()
    if len(tokens) < 4 or _SENTENCE_PUNCT.search(line):
        return False
    if sum(bool(_ICON_TOKEN.search(t)) for t in tokens) >= 0.25 * len(tokens):
        return True
    if len(tokens) < 6 or not all(re.fullmatch(r"[a-z][a-z0-9_-]*", t) for t in tokens):
        return False
    function = sum(t in _FUNCTION_WORDS for t in tokens)
    return function <= 0.1 * len(tokens) and sum(map(len, tokens)) / len(tokens) <= 9


def is_widget_line(line: str) -> bool:
    """A short share/comment/navigation/copyright line. Lines ending like a sentence (".", "?")
    are kept unless they are a copyright notice; "!" does not protect, it ends calls to action."""
    words = _WORD.findall(line)
    if not words:
        return True  # separators and bullets only ("* * *", "|"): no text to lose
    if len(words) > MAX_WIDGET_WORDS or len(line) > MAX_WIDGET_CHARS:
        return False
    if _COPYRIGHT_LINE.match(line):
        return True
    if line.rstrip("\"'”’)").endswith((".", "?", "…")):
        return False
    # Every word must be interface vocabulary: "Sign up for our newsletter" goes, "How to sign up
    # for Medicare" stays because "how" and "Medicare" are not widget words.
    phrases = len(_UI_PHRASE.findall(line))
    rest = [w.lower() for w in _WORD.findall(_UI_PHRASE.sub(" ", line))]
    rest = [w for w in rest if w not in _GLUE and not w.isdigit()]
    return (phrases > 0 or bool(rest)) and all(w in UI_WORDS for w in rest)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _notice_terms(line: str) -> int:
    return len(_NOTICE_TERM.findall(line))


def _mark_trailing_notice(lines: list[Line]) -> None:
    """Drop a comment-system / account notice at the end: the last few kept lines, walking up
    while each is dense in notice vocabulary (or is a sign-off), accepted as a block only when it
    says enough about comments and accounts and is a small part of the article."""
    kept = [ln for ln in lines if ln.verdict == KEEP]
    block: list[Line] = []
    for ln in reversed(kept[-NOTICE_MAX_LINES - 1 :]):
        words = len(_WORD.findall(ln.text))
        hits = _notice_terms(ln.text)
        dense = hits >= 2 and hits >= 0.04 * words
        short_hit = hits >= 1 and words <= 12
        if dense or short_hit or (not block and words <= 5 and _SIGN_OFF.match(ln.text)):
            block.append(ln)
        else:
            break
    if not block or len(block) > NOTICE_MAX_LINES:
        return
    hits = sum(_notice_terms(ln.text) for ln in block)
    kept_chars = sum(ln.end - ln.start for ln in kept)
    block_chars = sum(ln.end - ln.start for ln in block)
    # A notice talks to the reader ("we", "you", "Dear readers"); a news paragraph that merely
    # reports on accounts and passwords does not.
    address = sum(len(_ADDRESS.findall(ln.text)) for ln in block)
    if hits >= 4 and address >= 2 and block_chars <= NOTICE_MAX_SHARE * kept_chars:
        for ln in block:
            ln.verdict = "site-notice"


def classify(text: str) -> list[Line]:
    """Every non-blank line of ``text`` with the rule that dropped it, or ``KEEP``.

    A kept line may start later than the raw line: a leading "date 2024-03-17" label is metadata
    (it feeds :mod:`qa.ingest.metadata`), not article prose, and is cut off the kept region."""
    lines = _lines(text)
    previous: str | None = None
    for index, ln in enumerate(lines):
        if is_ui_token_line(ln.text):
            ln.verdict = "ui-tokens"
        elif is_widget_line(ln.text):
            ln.verdict = "widget"
        elif previous is not None and _same(ln.text, previous):
            ln.verdict = "duplicate"
        elif index < 3 and (found := labelled_date(ln.text)):
            rest = ln.text[found[0] :]
            skip = found[0] + len(rest) - len(rest.lstrip(" :-–—|,"))
            if skip >= len(ln.text):
                ln.verdict = "date-label"
            else:
                ln.start += skip
                ln.text = ln.text[skip:]
        previous = ln.text
    _mark_trailing_notice(lines)
    return lines


def content_regions(text: str) -> list[tuple[int, int]]:
    """Sorted, non-overlapping, non-empty ``[start, end)`` regions of ``text`` that are article
    content. Neighbouring kept lines merge into one region (the whitespace between them is kept);
    an empty list means nothing in the text looks like article prose."""
    regions: list[tuple[int, int]] = []
    last_kept = -1
    lines = classify(text)
    for i, ln in enumerate(lines):
        if ln.verdict != KEEP:
            continue
        if regions and last_kept == i - 1:
            regions[-1] = (regions[-1][0], ln.end)
        else:
            regions.append((ln.start, ln.end))
        last_kept = i
    return regions
