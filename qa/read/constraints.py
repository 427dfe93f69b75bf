"""The specific things a question pins its answer to, and whether a text states them.

A passage can be on the question's topic, share most of its words and hold something of the
asked type, and still not answer it: "Who headed the Abkhazian KGB?" over a sentence on the
South Ossetian KGB. What decides is whether the question's *constraints* hold in the text that
gives the answer: its names (capitalised words past the first: people, places, organisations,
qualifiers such as "Abkhazian"), its numbers and years, and its ordinals. The confidence model
weighs the share of each the answer's sentence and passage state (fitted weights, not a rule),
and a refusal names the constraints its closest candidate's sentence lacks, with what that
sentence says in their place.

Matching is on surface forms, since these are names and figures: case is ignored, a name
matches a word it begins or that begins it (Abkhazia, Abkhazian), a number matches with or
without thousands separators, and an ordinal matches its figure ("third", "3rd").
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Literal

from qa.read.overlap import content_terms
from qa.types import Unsupported

Kind = Literal["name", "number", "ordinal", "term"]
_MATCHED_AS: tuple[Kind, ...] = ("name", "number", "ordinal")

ORDINAL_WORDS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
]
_ORDINAL_FIGURES = {word: str(i + 1) for i, word in enumerate(ORDINAL_WORDS)}
_ORDINAL_FIGURE = re.compile(r"^(\d+)(?:st|nd|rd|th)$", re.IGNORECASE)
_NUMBER = re.compile(r"^\d[\d,]*(?:\.\d+)?$")
_TOKEN = re.compile(r"[A-Za-z][\w'’.-]*\w|[A-Za-z]|\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th|s)?")
#: capitalised words that do not pin anything down: question words, pronouns, and words that
#: open a question or a title in capitals without naming anything
_NOT_NAMES = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "whether",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "has",
        "have",
        "had",
        "may",
        "might",
        "must",
        "in",
        "on",
        "at",
        "of",
        "for",
        "from",
        "by",
        "to",
        "the",
        "a",
        "an",
        "and",
        "or",
        "i",
        "according",
        "besides",
        "during",
        "after",
        "before",
        "since",
        "between",
        "among",
        "name",
        "list",
        "give",
    ]
)
#: the shortest shared beginning that lets two names match (Russia, Russian; not Austria,
#: Australia, which share only "Austr" and neither begins the other)
_MIN_STEM = 4


@dataclass(frozen=True)
class Constraint:
    """One thing the question pins its answer to: ``text`` as the question writes it."""

    text: str
    kind: Kind
    start: int  # in the question
    end: int

    @property
    def key(self) -> str:
        """The form it is matched by: lower case, numbers without separators, ordinals as
        figures."""
        return _key(self.text, self.kind)


def _key(text: str, kind: Kind) -> str:
    low = text.lower().rstrip(".")
    if kind == "number":
        return low.replace(",", "")
    if kind == "ordinal":
        if low in _ORDINAL_FIGURES:
            return _ORDINAL_FIGURES[low]
        m = _ORDINAL_FIGURE.match(low)
        return m.group(1) if m else low
    return low.replace("’", "'").removesuffix("'s")


def _kind(token: str, first: bool) -> Kind | None:
    low = token.lower()
    if low in ORDINAL_WORDS or _ORDINAL_FIGURE.match(token):
        return "ordinal"
    if _NUMBER.match(token) or re.fullmatch(r"\d{2,4}s", token):
        return "number"
    if token[0].isupper() and not first and low not in _NOT_NAMES:
        return "name"
    if token.isupper() and len(token) > 1 and low not in _NOT_NAMES:
        return "name"  # an acronym opening the question
    return None


def question_constraints(question: str) -> list[Constraint]:
    """The names, numbers and ordinals of a question, one constraint per word (so that a passage
    stating "South Ossetian KGB" is seen to hold "KGB" and to lack "Abkhazian")."""
    out = []
    for i, m in enumerate(_TOKEN.finditer(question)):
        kind = _kind(m.group(0), first=i == 0)
        if kind is not None:
            out.append(Constraint(m.group(0), kind, m.start(), m.end()))
    return out


def _text_words(text: str) -> list[tuple[str, Kind, int, int]]:
    """The constraint-like words of ``text`` with their places, for finding what a text says
    instead of what the question asks."""
    found: list[tuple[str, Kind, int, int]] = []
    for i, m in enumerate(_TOKEN.finditer(text)):
        token = m.group(0)
        before = text[max(0, m.start() - 8) : m.start()].rstrip()[-1:]
        kind = _kind(token, first=i == 0 or before in '.!?\n"“')
        if kind is not None:
            found.append((token, kind, m.start(), m.end()))
    return found


@dataclass(frozen=True)
class TextKeys:
    """Every word of a text as a matching key, in every kind it could be (``text_keys``), with
    the keys in order, so that the names a key begins are found by bisection."""

    keys: frozenset[str]
    ordered: tuple[str, ...]


def _matches(key: str, kind: Kind, text: TextKeys) -> bool:
    if key in text.keys:
        return True
    if kind != "name" or len(key) < _MIN_STEM:
        return False
    # a word the name begins (Abkhazia for Abkhazian), at least _MIN_STEM long ...
    if any(key[:n] in text.keys for n in range(_MIN_STEM, len(key))):
        return True
    # ... or a word that begins with the name (Abkhazian for Abkhazia): they sort right after it
    at = bisect.bisect_left(text.ordered, key)
    return at < len(text.ordered) and text.ordered[at].startswith(key)


def text_keys(text: str) -> TextKeys:
    """What ``stated`` needs of a text, worth keeping when one passage is checked against
    several answers."""
    keys: set[str] = set()
    for token in set(_TOKEN.findall(text.lower())):
        # _key in each of _MATCHED_AS, unrolled: this runs over every passage an answer has
        low = token.rstrip(".")
        keys.add(low.replace(",", ""))
        if low[:1].isdigit():
            m = _ORDINAL_FIGURE.match(low)
            keys.add(m.group(1) if m else low)
        else:
            keys.add(_ORDINAL_FIGURES.get(low, low))
        keys.add(low.replace("’", "'").removesuffix("'s"))
    return TextKeys(frozenset(keys), tuple(sorted(keys)))


def stated(constraints: list[Constraint], text: str | TextKeys) -> list[bool]:
    """Whether ``text`` (or its ``text_keys``) states each constraint."""
    keys = text_keys(text) if isinstance(text, str) else text
    return [_matches(c.key, c.kind, keys) for c in constraints]


def share_stated(
    constraints: list[Constraint], text: str | TextKeys, kinds: tuple[Kind, ...]
) -> float:
    """The share of the constraints of ``kinds`` that ``text`` (or its ``text_keys``) states;
    1 when the question has none of them (nothing to miss)."""
    wanted = [c for c in constraints if c.kind in kinds]
    if not wanted:
        return 1.0
    return sum(stated(wanted, text)) / len(wanted)


def unsupported(
    question: str, sentence: str, answer: tuple[int, int] | None = None
) -> list[Unsupported]:
    """The question's constraints that ``sentence`` lacks, adjacent words of one kind joined
    ("Abkhazian" and "KGB" stay apart when only one is missing), each with the sentence's nearest
    word group of the same kind that the question does not hold, outside the answer span
    ``answer`` (offsets into ``sentence``): the South Ossetian KGB, not the Abkhazian. When the
    sentence holds every constraint, the question's content words it lacks ("sign", "treaty"
    asked of a sentence where two men only met), as terms."""
    cons = question_constraints(question)
    held = stated(cons, sentence)
    if all(held):
        return _missing_terms(question, sentence, cons)
    missing: list[list[Constraint]] = []
    for c, ok in zip(cons, held, strict=True):
        if ok:
            continue
        last = missing[-1][-1] if missing else None
        if last is not None and last.kind == c.kind and question[last.end : c.start].strip() == "":
            missing[-1].append(c)
        else:
            missing.append([c])
    q_keys = text_keys(question)
    words = _text_words(sentence)
    lo, hi = answer if answer is not None else (-1, -1)
    spare = [
        w
        for w in words
        if not _matches(_key(w[0], w[1]), w[1], q_keys) and not (w[2] < hi and lo < w[3])
    ]
    groups = _group(sentence, spare)
    # where the sentence holds what the question does state: the substitute sits beside it
    anchors = [
        m.start()
        for c, ok in zip(cons, held, strict=True)
        if ok
        for m in re.finditer(re.escape(c.text), sentence, re.IGNORECASE)
    ]
    out = []
    used: set[str] = set()
    for run in missing:
        text = question[run[0].start : run[-1].end]
        kind = run[0].kind
        options = [g for g in groups if g[1] == kind and g[0] not in used]
        instead = ""
        if options:

            def distance(g: tuple[str, Kind, int, int]) -> int:
                return min((abs(g[2] - a) for a in anchors), default=g[2])

            instead = min(options, key=distance)[0]
            used.add(instead)
        out.append(Unsupported(text, kind, instead))
    return out


def _missing_terms(question: str, sentence: str, cons: list[Constraint]) -> list[Unsupported]:
    have = content_terms(sentence)
    named = {c.text.lower() for c in cons}
    out: list[Unsupported] = []
    for m in re.finditer(r"[A-Za-z][\w'-]*", question):
        word = m.group(0)
        if word.lower() in named or any(u.text.lower() == word.lower() for u in out):
            continue
        terms = content_terms(word)
        if terms and not terms <= have:
            out.append(Unsupported(word, "term"))
    return out


def _group(text: str, words: list[tuple[str, Kind, int, int]]) -> list[tuple[str, Kind, int, int]]:
    """Adjacent words of one kind as one group ("South" "Ossetian" -> "South Ossetian")."""
    groups: list[tuple[str, Kind, int, int]] = []
    for w in words:
        if groups and groups[-1][1] == w[1] and text[groups[-1][3] : w[2]].strip() == "":
            g = groups[-1]
            groups[-1] = (text[g[2] : w[3]], g[1], g[2], w[3])
        else:
            groups.append(w)
    return groups
