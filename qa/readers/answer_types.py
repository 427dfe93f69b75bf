"""What kind of answer a question asks for, read off its wh-word and head noun.

The reader uses the expected type as one feature among several (a person's name for "who", a date
for "when", ...), never as a hard filter: spaCy's small model mislabels entities often enough that
excluding candidates on its word alone would lose answers.

Head nouns map to entity labels through short lists of common English nouns per category. The lists
are general vocabulary (what a "which X" question tends to ask about), not tuned to any corpus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

PERSON_LIKE = frozenset({"PERSON", "ORG", "NORP"})
TIME = frozenset({"DATE", "TIME"})
PLACE = frozenset({"GPE", "LOC", "FAC"})
NUMBER = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})

#: forms of answer: an entity of given labels, a number, a modifier of a noun ("what kind of X"),
#: or any noun phrase.
ENTITY, NUMERIC, MODIFIER, PHRASE = "entity", "number", "modifier", "phrase"

_WH = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}


def _nouns(text: str) -> frozenset[str]:
    return frozenset(text.split())


_HEAD_LABELS: dict[frozenset[str], frozenset[str]] = {
    frozenset({"PERSON"}): _nouns(
        """
        actor actress admiral ambassador analyst architect artist astronaut athlete author
        bishop boy brother candidate captain ceo chair chairman chairwoman chancellor chemist
        child children coach commander composer daughter designer dictator diplomat director
        doctor economist editor emperor empress engineer envoy expert explorer father founder
        friend general girl governor head historian host husband individual inventor journalist
        judge king lawyer leader man manager mayor member men minister monarch mother musician
        novelist officer official owner painter people person philosopher physicist player poet
        politician pope predecessor premier president priest prince princess producer professor
        queen reporter rival ruler scientist senator singer sister soldier son spokesman
        spokesperson spokeswoman student successor teacher wife woman women writer
        """
    ),
    frozenset({"ORG"}): _nouns(
        """
        agency airline alliance army assembly association band bank bloc body brand broadcaster
        business channel charity church club coalition college committee company congress
        corporation council court department federation firm force foundation government group
        institute institution label league magazine manufacturer military ministry navy network
        newspaper organisation organization outlet parliament party publisher school senate
        service station studio team union university
        """
    ),
    frozenset({"FAC", "GPE", "LOC"}): _nouns(
        """
        airport area border bridge building capital city coast continent country county desert
        district forest harbor harbour island lake location mountain nation neighborhood
        neighbourhood ocean park peninsula place port province region republic river road sea
        site stadium state street suburb territory town valley village
        """
    ),
    frozenset({"DATE", "TIME"}): _nouns(
        """
        century date day decade era evening hour moment month morning night period season time
        week year
        """
    ),
    frozenset({"CARDINAL", "QUANTITY"}): _nouns(
        """
        amount area count depth distance height length number population quantity size speed
        temperature total weight width
        """
    ),
    frozenset({"PERCENT"}): _nouns(
        """
        percent percentage proportion rate share
        """
    ),
    frozenset({"MONEY"}): _nouns(
        """
        budget cost fee price revenue salary
        """
    ),
    frozenset({"LANGUAGE", "NORP"}): _nouns(
        """
        ethnicity faith language nationality religion tribe
        """
    ),
    frozenset({"EVENT"}): _nouns(
        """
        battle election event revolution war
        """
    ),
    frozenset({"WORK_OF_ART"}): _nouns(
        """
        album book film movie novel song
        """
    ),
    frozenset({"LAW"}): _nouns(
        """
        act agreement constitution law treaty
        """
    ),
}
_PREFERENCE = (
    "PERSON", "GPE", "DATE", "CARDINAL", "ORG", "LOC", "FAC", "PERCENT", "MONEY", "QUANTITY",
    "TIME", "NORP", "LANGUAGE", "EVENT", "WORK_OF_ART", "LAW",
)  # fmt: skip
_MODIFIERS = {"amod", "compound", "nummod"}
_KIND_NOUNS = {"kind", "type", "sort", "form", "variety", "style"}
_NAME_NOUNS = {"name", "title"}


@dataclass(frozen=True)
class AnswerType:
    """``labels``: entity labels that fit; ``head``: lemma of the noun the question asks about
    ("agency" in "which news agency"), whose presence next to a candidate is evidence for it."""

    wh: str
    form: str
    labels: frozenset[str] = field(default_factory=frozenset)
    head: str | None = None
    plural: bool = False  # "which two regions": a list ("A and B") fits

    @property
    def primary(self) -> str | None:
        """The most likely of ``labels``: a person for "who", a country or city for "where"."""
        return next((label for label in _PREFERENCE if label in self.labels), None)


def _label_of_head(lemma: str) -> frozenset[str]:
    for labels, nouns in _HEAD_LABELS.items():
        if lemma in nouns:
            return labels
    # role nouns built with these suffixes name people (historian, novelist, ...)
    if len(lemma) > 5 and lemma.endswith(("ist", "ian")):
        return frozenset({"PERSON"})
    return frozenset()


def _head_after(doc: Doc, i: int) -> Token | None:
    """The noun a wh-determiner asks about: the last noun of the modifier-and-noun run that
    follows it ("which two breakaway regions" -> regions). The parser is unreliable on questions
    ("which state" may come out as pobj + nsubj), so this reads the word order instead."""
    wh = doc[i]
    if wh.dep_ == "det" and wh.head.pos_ in {"NOUN", "PROPN"} and wh.head.i > i:
        return wh.head
    head = None
    for tok in doc[i + 1 :]:
        if tok.pos_ in {"NOUN", "PROPN"}:
            head = tok
        elif tok.pos_ == "DET" and head is None:
            continue  # "the name of the river"
        elif tok.tag_ == "HYPH" or tok.pos_ in {"ADJ", "ADV", "NUM"} or tok.dep_ in _MODIFIERS:
            continue  # "Moscow-led military alliance": modifiers, hyphens, nouns used as them
        else:
            break
    return head


def detect(question: Doc) -> AnswerType:
    """The expected answer type of a parsed question."""
    tokens = list(question)
    wh_i = next((t.i for t in tokens if t.lower_ in _WH), None)
    if wh_i is None:  # imperative or declarative ("Name the river ...")
        return _from_noun(question, "", _first_noun(question))
    wh = tokens[wh_i].lower_
    nxt = tokens[wh_i + 1].lower_ if wh_i + 1 < len(tokens) else ""
    if wh in {"who", "whom", "whose"}:
        return AnswerType(wh, ENTITY, PERSON_LIKE)
    if wh == "when":
        return AnswerType(wh, ENTITY, TIME)
    if wh == "where":
        return AnswerType(wh, ENTITY, PLACE)
    if wh == "why":
        return AnswerType(wh, PHRASE)
    if wh == "how":
        if nxt in {"many", "much"}:
            head = _head_after(question, wh_i + 1)
            return AnswerType(wh, NUMERIC, NUMBER, head.lemma_.lower() if head else None)
        if nxt == "long":
            return AnswerType(wh, NUMERIC, TIME | frozenset({"QUANTITY", "CARDINAL"}))
        if nxt in {"old", "often"}:
            return AnswerType(wh, NUMERIC, frozenset({"DATE", "CARDINAL"}))
        if nxt in {"far", "tall", "big", "large", "high", "deep", "wide", "fast", "heavy"}:
            return AnswerType(wh, NUMERIC, frozenset({"QUANTITY", "CARDINAL"}))
        return AnswerType(wh, PHRASE)
    # what / which
    head = _head_after(question, wh_i)
    if head is not None and head.lemma_.lower() in _KIND_NOUNS:
        of = head.i + 1
        if of < len(tokens) and tokens[of].lower_ == "of":
            inner = _head_after(question, of)
            return AnswerType(wh, MODIFIER, head=inner.lemma_.lower() if inner else None)
    if head is None or head.lemma_.lower() in _NAME_NOUNS:
        # "what is the name of the X": the answer is an X
        named = _noun_after_name(question)
        if named is not None:
            return _from_noun(question, wh, named)
        return AnswerType(wh, PHRASE)
    return _from_noun(question, wh, head)


def _noun_after_name(doc: Doc) -> Token | None:
    for tok in doc:
        if (
            tok.lemma_.lower() in _NAME_NOUNS
            and tok.i + 1 < len(doc)
            and doc[tok.i + 1].lower_ == "of"
        ):
            return _head_after(doc, tok.i + 1)
    return None


def _first_noun(doc: Doc) -> Token | None:
    return next((t for t in doc if t.pos_ in {"NOUN", "PROPN"}), None)


def _from_noun(doc: Doc, wh: str, head: Token | None) -> AnswerType:
    if head is None:
        return AnswerType(wh, PHRASE)
    lemma = head.lemma_.lower()
    labels = _label_of_head(lemma)
    plural = head.tag_ in {"NNS", "NNPS"}
    if not labels:
        return AnswerType(wh, PHRASE, head=lemma, plural=plural)
    form = NUMERIC if labels <= NUMBER else ENTITY
    return AnswerType(wh, form, labels, lemma, plural)
