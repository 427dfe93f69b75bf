"""Title, publication date and publisher of an article, read from its own text.

Everything here is a heuristic over the way news pages are laid out, so each rule looks only where
that kind of statement lives: dates and datelines near the top, "According to X" / sign-offs near
the bottom, copyright notices anywhere but only as a short line of their own. When no rule fires
the field is ``None``: a missing date is better than the date of some event the article mentions.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterator
from pathlib import Path

MAX_TITLE_CHARS = 300
#: a first line longer than this is a paragraph, not a headline: the title is made from it
HEADLINE_CHARS = 150
#: a title made from a sentence is cut (at a word boundary) to about this many characters
SHORT_TITLE_CHARS = 100
MAX_SOURCE_CHARS = 60

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
    "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12,
    "december": 12,
}  # fmt: skip
_MONTH = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")"
_ORD = r"(?:st|nd|rd|th)?"

#: one full calendar date (year, month and day all stated); a bare "March 18" is not a date here
DATE_PATTERN = re.compile(
    rf"""
    (?P<iso>\b(?P<y1>\d{{4}})[-/.](?P<m1>\d{{1,2}})[-/.](?P<d1>\d{{1,2}})
        (?:[T ]\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?(?:Z|[+-]\d{{2}}:?\d{{2}})?)?)(?![\d/.-]\d)
    | (?P<mdy>\b(?P<m2>{_MONTH})\.?\s+(?P<d2>\d{{1,2}}){_ORD},?\s+(?P<y2>\d{{4}})\b)
    | (?P<dmy>\b(?P<d3>\d{{1,2}}){_ORD}\s+(?:of\s+)?(?P<m3>{_MONTH})\.?,?\s+(?P<y3>\d{{4}})\b)
    """,
    re.IGNORECASE | re.VERBOSE,
)

#: words that announce the date of the page itself ("date 2024-03-17", "Published: 18 March 2014")
_DATE_LABEL = re.compile(
    r"(?:date[ds]?|published|posted|updated|last\s+updated|first\s+published)"
    r"(?:\s+(?:on|at))?\s*[:\-–—|]?\s*",
    re.IGNORECASE,
)
_WEEKDAY = re.compile(
    r"(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+", re.IGNORECASE
)
#: a dateline opens a news story with the place in capitals: "MOSCOW, March 18. /TASS/."
_DATELINE_PLACE = r"[A-Z][A-Za-z.'’ -]{1,40}?"
_DATELINE_DATE = re.compile(rf"^{_DATELINE_PLACE},\s+")
_DATELINE_SLASH_AGENCY = re.compile(
    rf"^{_DATELINE_PLACE},[^\n/]{{0,40}}?/\s*([A-Z][\w&.'’ -]{{1,30}}?)\s*/"
)
_DATELINE_PAREN_AGENCY = re.compile(
    rf"^(?:{_DATELINE_PLACE}(?:,[^\n()]{{0,40}})?\s*)?\(([A-Z][\w&.'’ -]{{1,30}}?)\)\s*[-–—:]"
)
_ATTRIBUTION = re.compile(
    r"^(?:according\s+to|sources?\s*:|source\s+[-–—]|via|courtesy\s+of)\s*:?\s*(.+?)[.\s]*$",
    re.IGNORECASE,
)
_COPYRIGHT = re.compile(
    r"^(?:copyright\s*(?:©|\(c\))?|©|\(c\))\s*(?:\d{4}(?:\s*[-–]\s*\d{4})?)?\s*[,.]?\s*(.+?)"
    r"(?:[.,]?\s*all\s+rights\s+reserved.*)?[.\s]*$",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"^(?:the\s+)?(.{1,40}?)\s+(?:team|editors|editorial\s+(?:team|board|staff)|staff|newsroom)"
    r"[.!\s]*$",
    re.IGNORECASE,
)
_HEADING_MARK = re.compile(r"^#{1,6}\s+")
_SENTENCE_END = re.compile(r"[.!?](?=[\"'”’)\]]*(?:\s|$))")

HEAD_LINES = 6  # lines read for dates and datelines: the page's own date sits at the top
TAIL_LINES = 3  # lines read for "According to X" and sign-offs


# -- dates ----------------------------------------------------------------------------------------


def _iso(match: re.Match[str]) -> str | None:
    """The ISO form of a :data:`DATE_PATTERN` match, or None for impossible dates (2014-02-30)."""
    g = match.groupdict()
    if g["iso"]:
        y, m, d = int(g["y1"]), int(g["m1"]), int(g["d1"])
    elif g["mdy"]:
        y, m, d = int(g["y2"]), _MONTHS[g["m2"].lower()], int(g["d2"])
    else:
        y, m, d = int(g["y3"]), _MONTHS[g["m3"].lower()], int(g["d3"])
    if not 1800 <= y <= 2200:
        return None
    try:
        return _dt.date(y, m, d).isoformat()
    except ValueError:
        return None


def find_dates(text: str) -> Iterator[tuple[int, int, str]]:
    """Every full calendar date stated in ``text``: ``(start, end, "YYYY-MM-DD")``."""
    for m in DATE_PATTERN.finditer(text):
        iso = _iso(m)
        if iso:
            yield m.start(), m.end(), iso


def parse_date(value: str) -> str | None:
    """``value`` as ``YYYY-MM-DD`` when the whole string is one date (ISO datetimes included)."""
    value = _WEEKDAY.sub("", value.strip(), count=1) if value.strip() else ""
    m = DATE_PATTERN.fullmatch(value)
    return _iso(m) if m else None


def date_at(text: str, pos: int = 0) -> tuple[int, str] | None:
    """A date starting exactly at ``pos`` (a weekday before it is allowed): ``(end, iso)``."""
    wd = _WEEKDAY.match(text, pos)
    if wd:
        pos = wd.end()
    m = DATE_PATTERN.match(text, pos)
    if not m:
        return None
    iso = _iso(m)
    return (m.end(), iso) if iso else None


def labelled_date(line: str) -> tuple[int, str] | None:
    """A line that opens with a date label and a date ("date 2024-03-17 ...", "Published: 18 March
    2014"): ``(end of the date in line, iso)``. Used by cleaning too, to mark the label as
    metadata rather than article text."""
    label = _DATE_LABEL.match(line)
    return date_at(line, label.end()) if label else None


def _line_date(line: str) -> str | None:
    """The page date stated by one line near the top, or None (see module docstring)."""
    line = line.strip()
    if _COPYRIGHT.match(line):  # "© 2025-01-05 Gazette" dates the notice, not the article
        return None
    if found := labelled_date(line):
        return found[1]
    if found := date_at(line):  # the line opens with the date: "18 March 2014 | 10:45 GMT"
        return found[1]
    dl = _DATELINE_DATE.match(line)  # "MOSCOW, March 18, 2014 (Reuters) -"
    if dl and (found := date_at(line, dl.end())):
        return found[1]
    dates = list(find_dates(line))
    if len(dates) == 1:  # a short line that is mostly the date: "By Jo Smith | March 18, 2014"
        s, e, iso = dates[0]
        rest = (line[:s] + line[e:]).strip()
        if len(rest.split()) <= 5 and not rest.endswith("."):
            return iso
    return None


# -- lines --------------------------------------------------------------------------------------


def _lines(text: str, regions: list[tuple[int, int]] | None = None) -> list[str]:
    """Non-blank lines, stripped; only those inside ``regions`` when given."""
    spans = regions if regions is not None else [(0, len(text))]
    out: list[str] = []
    for start, end in spans:
        out.extend(s.strip() for s in text[start:end].splitlines() if s.strip())
    return out


def _clean_name(name: str) -> str | None:
    """A publisher name as printed, or None when it does not look like one."""
    name = name.strip().strip("\"'“”‘’«»()[]").strip(" .,;:-–—|")
    if not name or len(name) > MAX_SOURCE_CHARS or not (name[0].isupper() or name[0].isdigit()):
        return None
    if len(name.split()) > 6 or _SENTENCE_END.search(name[:-1]):
        return None
    if name.lower() in {"the", "our", "your", "this", "a", "an"}:  # "The Editors" names no one
        return None
    return name


# -- the three fields -----------------------------------------------------------------------------


def extract_date(text: str) -> str | None:
    """The date the article states for itself near its top, as ``YYYY-MM-DD``."""
    for line in _lines(text[:2000])[:HEAD_LINES]:
        if iso := _line_date(line):
            return iso
    return None


def extract_source(text: str) -> str | None:
    """The outlet that published the article, most specific signal first: a dateline at the top,
    an attribution line at the end ("According to VOV"), a copyright line, a team sign-off.
    Agencies merely quoted in the body ("Reuters quoted ...") are never taken."""
    lines = _lines(text)
    for line in lines[:HEAD_LINES]:
        for pattern in (_DATELINE_SLASH_AGENCY, _DATELINE_PAREN_AGENCY):
            if (m := pattern.match(line)) and (name := _clean_name(m.group(1))):
                return name
    tail = lines[-TAIL_LINES:]
    # (lines looked at, longest such line in words, pattern), in order of trust
    rules = (
        (tail[::-1], 8, _ATTRIBUTION),
        (lines, 12, _COPYRIGHT),
        (tail[::-1], 6, _SIGN_OFF),
    )
    for candidates, max_words, pattern in rules:
        for line in candidates:
            m = pattern.match(line) if len(line.split()) <= max_words else None
            if m and (name := _clean_name(m.group(1))):
                return name
    return None


def _shorten(sentence: str, limit: int = SHORT_TITLE_CHARS) -> str:
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit + 1].rsplit(None, 1)[0] if " " in sentence[:limit] else sentence[:limit]
    return cut.rstrip(" ,;:-–—") + "..."


def extract_title(text: str, content: list[tuple[int, int]], path: str | None = None) -> str:
    """The first content line (a markdown heading loses its ``#``). A first line that is really a
    paragraph gives its first sentence, cut at a word boundary; no content at all gives the file
    name."""
    for line in _lines(text, content):
        line = _HEADING_MARK.sub("", line).strip()
        if found := labelled_date(line):  # "date 2024-03-17 Amidst ..." is not part of a title
            line = line[found[0] :].lstrip(" :-–—|")
        if not line:
            continue
        if len(line) <= HEADLINE_CHARS:
            return line[:MAX_TITLE_CHARS]
        end = _SENTENCE_END.search(line)
        first = line[: end.start() + 1] if end else line
        return _shorten(first.strip())
    return Path(path).stem if path else ""


def extract_metadata(
    text: str, content: list[tuple[int, int]], path: str | None
) -> dict[str, str | None]:
    """``{"title", "date", "source"}`` for one article. ``content`` (cleaning's kept regions)
    decides the title; date and source also read boilerplate lines, where pages print them."""
    return {
        "title": extract_title(text, content, path),
        "date": extract_date(text),
        "source": extract_source(text),
    }
