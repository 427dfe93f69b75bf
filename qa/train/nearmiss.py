"""Near-miss questions: answerable training questions perturbed until their paragraph no longer
answers them, the way SQuAD 2.0's annotators wrote its unanswerable questions.

A reader that has only seen a few thousand unanswerable questions learns that a passage on the
question's topic holding something of the asked type is an answer. What it must learn instead is
that each constraint of the question (the entity, the number, the date, the ordinal, the polarity,
the fact itself) has to be stated. Each kind below breaks exactly one constraint of a question
whose paragraph did answer it, and then checks the paragraph for what the new question asks:

- ``entity_swap``: a named entity of the question becomes another of the same type from the same
  article, one the paragraph never mentions;
- ``entity_swap_near``: the same, with an entity the paragraph does name, but not in the
  sentences that state the answer nor in any sentence that says much else the question asks
  (the Abkhazian KGB asked of a passage on the South Ossetian KGB that mentions Abkhazia);
- ``number_swap``, ``date_swap``, ``ordinal_swap``: a number, year, month or ordinal becomes
  another value the paragraph does not contain;
- ``negation``: the question's verb is negated, where the answer's sentence states nothing
  negative;
- ``antonym``: a word becomes its opposite ("largest" for "smallest"), which the paragraph lacks;
- ``removed_fact``: the sentences that state the answer are cut out of the paragraph and no
  other sentence holds it.

Every check is against the paragraph as the reader will see it, so a case whose paragraph still
holds the new value (a swap to another name the paragraph mentions, a date it also gives) is
dropped rather than trained on as a false "no answer".
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qa.eval.squad import Example
from qa.read.constraints import ORDINAL_WORDS

KINDS = (
    "entity_swap",
    "entity_swap_near",
    "number_swap",
    "date_swap",
    "ordinal_swap",
    "negation",
    "antonym",
    "removed_fact",
)
FORMAT = "qa-near-miss"
VERSION = 1

#: named-entity labels whose swap changes what is asked about
ENTITY_LABELS = frozenset(
    {
        "PERSON",
        "ORG",
        "GPE",
        "NORP",
        "LOC",
        "FAC",
        "EVENT",
        "WORK_OF_ART",
        "LAW",
        "PRODUCT",
        "LANGUAGE",
    }
)
#: labels the recogniser confuses with each other, swapped as one type
_SAME_TYPE = {"LOC": "GPE", "FAC": "GPE"}
NUMBER_LABELS = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
#: the ordinals a swap picks from (the question's own may be any the reader knows)
ORDINALS = ORDINAL_WORDS[:12]
NUMBER_WORDS = [
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]
#: pairs of opposites a question turns on; both directions are used
ANTONYMS = (
    ("largest", "smallest"),
    ("biggest", "smallest"),
    ("highest", "lowest"),
    ("longest", "shortest"),
    ("oldest", "newest"),
    ("earliest", "latest"),
    ("first", "last"),
    ("most", "least"),
    ("best", "worst"),
    ("major", "minor"),
    ("maximum", "minimum"),
    ("before", "after"),
    ("increase", "decrease"),
    ("increased", "decreased"),
    ("rise", "fall"),
    ("rose", "fell"),
    ("win", "lose"),
    ("won", "lost"),
    ("gain", "loss"),
    ("north", "south"),
    ("northern", "southern"),
    ("east", "west"),
    ("eastern", "western"),
    ("upper", "lower"),
    ("inner", "outer"),
    ("public", "private"),
    ("internal", "external"),
    ("positive", "negative"),
    ("strongest", "weakest"),
    ("fastest", "slowest"),
    ("richest", "poorest"),
    ("heaviest", "lightest"),
    ("warmest", "coldest"),
    ("hottest", "coldest"),
    ("deepest", "shallowest"),
    ("widest", "narrowest"),
    ("cheapest", "most expensive"),
    ("accept", "reject"),
    ("accepted", "rejected"),
    ("allowed", "banned"),
    ("support", "oppose"),
    ("supported", "opposed"),
    ("start", "end"),
    ("began", "ended"),
    ("opened", "closed"),
    ("legal", "illegal"),
    ("success", "failure"),
    ("successful", "unsuccessful"),
    ("common", "rare"),
    ("entered", "left"),
    ("import", "export"),
    ("imported", "exported"),
    ("buy", "sell"),
    ("bought", "sold"),
    ("ancient", "modern"),
    ("urban", "rural"),
    ("minimum", "maximum"),
    ("higher", "lower"),
    ("larger", "smaller"),
    ("older", "younger"),
    ("male", "female"),
    ("men", "women"),
    ("wet", "dry"),
)
_ANTONYM = {a: b for a, b in ANTONYMS} | {b: a for a, b in ANTONYMS}
#: words that make a sentence state something negative, so a negated question might be answered
NEGATION_CUES = re.compile(
    r"\b(not|no|never|none|nobody|nothing|neither|nor|without|cannot|lack\w*|fail\w*|"
    r"refus\w*|den(y|ied|ies))\b|n't\b",
    re.IGNORECASE,
)
_CONTRACTED = {
    "do": "don't",
    "does": "doesn't",
    "did": "didn't",
    "is": "isn't",
    "are": "aren't",
    "was": "wasn't",
    "were": "weren't",
    "has": "hasn't",
    "have": "haven't",
    "had": "hadn't",
    "can": "can't",
    "could": "couldn't",
    "will": "won't",
    "would": "wouldn't",
    "should": "shouldn't",
    "must": "mustn't",
    "might": "might not",
    "may": "may not",
}
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_DECADE = re.compile(r"\b(1[0-9]{2}|20[0-9])0s\b")
_NUMBER = re.compile(r"\d[\d,]*(\.\d+)?")
_WORD = re.compile(r"\w+")
#: what must remain of a paragraph with its fact cut out: a sentence or so on the same topic
MIN_REST_CHARS = 80
#: entity_swap_near: a sentence naming the new entity may share less than 1/N of the question's
#: other words (more, and it may state the same fact about it)
NEAR_OVERLAP = 3
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "and",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "de",
        "la",
        "le",
    ]
)


@dataclass(frozen=True)
class NearMiss:
    """One perturbed question and the paragraph it is read against (no answer in it)."""

    id: str
    title: str
    question: str
    context: str
    kind: str
    source_id: str
    original: str  # the question before the perturbation
    replaced: str  # what the perturbation took out of the question (or the paragraph)
    inserted: str  # what it put in its place ("" for a removed fact)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NearMiss:
        return cls(**{k: str(data[k]) for k in cls.__dataclass_fields__})

    def example(self) -> Example:
        return Example(self.id, self.question, [], title=self.title, context=self.context)


def _contains(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words, ignoring case."""
    phrase = phrase.strip()
    if not phrase:
        return False
    pattern = r"(?<!\w)" + re.escape(phrase) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _initials(text: str) -> str:
    return "".join(w[0] for w in _WORD.findall(text) if w[0].isupper())


def _related(a: str, b: str) -> bool:
    """Names that may denote the same thing: shared words, one inside the other, or an
    acronym of the other ("USSR" for "Union of Soviet Socialist Republics" is still the
    USSR)."""
    la, lb = a.lower().strip(), b.lower().strip()
    if la in lb or lb in la or _words(a) & _words(b):
        return True
    ia, ib = _initials(a), _initials(b)
    return (len(ia) >= 2 and ia.lower() == lb.replace(".", "")) or (
        len(ib) >= 2 and ib.lower() == la.replace(".", "")
    )


def _swap(question: str, start: int, end: int, new: str) -> str:
    return question[:start] + new + question[end:]


def _keep_case(old: str, new: str) -> str:
    if old[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


@dataclass
class _Parsed:
    """What the perturbations need of one answerable question, parsed once."""

    example: Example
    ents: list[tuple[str, str, int, int]]  # (text, label, start, end) in the question
    tokens: list[tuple[str, str, str, str, int, str]]  # (text, tag, dep, lemma, idx, head dep)
    root: int  # index into tokens of the question's root
    aux: int  # index of the root's auxiliary (or the root itself when it is one); -1: none
    verb: bool  # whether the root is a verb (a noun parsed as the root cannot be negated)


def _parse_questions(nlp: Any, examples: Sequence[Example]) -> list[_Parsed]:
    out = []
    for ex, doc in zip(
        examples, nlp.pipe([e.question for e in examples], batch_size=512), strict=True
    ):
        tokens = [(t.text, t.tag_, t.dep_, t.lemma_, t.idx, t.head.dep_) for t in doc]
        root = next((t.i for t in doc if t.dep_ == "ROOT"), -1)
        aux = -1
        if root >= 0:
            if doc[root].pos_ == "AUX":
                aux = root
            else:
                aux = next(
                    (
                        c.i
                        for c in doc[root].children
                        if c.dep_ in ("aux", "auxpass") and c.lower_ in _CONTRACTED
                    ),
                    -1,
                )
        ents = [
            (e.text, _SAME_TYPE.get(e.label_, e.label_), e.start_char, e.end_char) for e in doc.ents
        ]
        verb = root >= 0 and doc[root].pos_ == "VERB"
        out.append(_Parsed(ex, ents, tokens, root, aux, verb))
    return out


def _read_paragraphs(
    nlp: Any, examples: Sequence[Example]
) -> tuple[dict[str, dict[str, Counter[str]]], dict[str, list[tuple[int, int]]]]:
    """One pass of the pipeline over every paragraph: each article's named entities by label
    (with how often they occur), and each paragraph's sentences."""
    contexts: dict[str, str] = {}
    for e in examples:
        contexts.setdefault(e.context, e.title)
    found: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    sentences: dict[str, list[tuple[int, int]]] = {}
    texts = list(contexts)
    for text, doc in zip(texts, nlp.pipe(texts, batch_size=64), strict=True):
        sentences[text] = [(s.start_char, s.end_char) for s in doc.sents]
        for ent in doc.ents:
            name = ent.text.strip()
            if 1 < len(name) <= 60 and "\n" not in name:
                found[contexts[text]][_SAME_TYPE.get(ent.label_, ent.label_)][name] += 1
    return found, sentences


def _answer_sentences(example: Example, sentences: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The sentences of the paragraph that hold (part of) an answer."""
    spans: set[tuple[int, int]] = set()
    for text, start in example.spans:
        end = start + len(text)
        spans.update((s, e) for s, e in sentences if s < end and start < e)
    return sorted(spans)


class Perturber:
    """Makes near-miss cases from answerable examples. ``nlp`` is a full spaCy English pipeline
    (tagger, parser, NER): training-time only, the service never loads it."""

    def __init__(self, nlp: Any, *, seed: int = 13) -> None:
        self.nlp = nlp
        self.rng = random.Random(seed)

    def generate(self, examples: Sequence[Example]) -> list[NearMiss]:
        """Every kind each answerable example allows, one case per kind; ``balance`` then
        chooses the mix."""
        answerable = [e for e in examples if e.spans]
        entities, sentences = _read_paragraphs(self.nlp, answerable)
        out: list[NearMiss] = []
        for parsed in _parse_questions(self.nlp, answerable):
            for kind in KINDS:
                case = self._make(kind, parsed, entities, sentences)
                if case is not None:
                    out.append(case)
        return out

    def _make(
        self,
        kind: str,
        p: _Parsed,
        entities: dict[str, dict[str, Counter[str]]],
        sentences: dict[str, list[tuple[int, int]]],
    ) -> NearMiss | None:
        ex = p.example
        held = _answer_sentences(ex, sentences.get(ex.context, []))
        if kind == "removed_fact":
            return self._removed_fact(ex, held)
        if kind == "entity_swap":
            change = self._entity_swap(p, entities.get(ex.title, {}))
        elif kind == "entity_swap_near":
            change = self._entity_swap_near(p, entities.get(ex.title, {}), sentences, held)
        elif kind == "number_swap":
            change = self._number_swap(p, entities.get(ex.title, {}))
        elif kind == "date_swap":
            change = self._date_swap(p)
        elif kind == "ordinal_swap":
            change = self._ordinal_swap(p)
        elif kind == "antonym":
            change = self._antonym(p)
        elif kind == "negation":
            change = self._negation(p, held)
        else:
            raise ValueError(f"unknown kind {kind!r}")
        if change is None:
            return None
        question, old, new = change
        return NearMiss(
            f"{ex.id}-{kind}", ex.title, question, ex.context, kind, ex.id, ex.question, old, new
        )

    # -- the kinds ---------------------------------------------------------------------------

    def _entity_swap(
        self, p: _Parsed, article: dict[str, Counter[str]]
    ) -> tuple[str, str, str] | None:
        ctx = p.example.context
        options = [e for e in p.ents if e[1] in ENTITY_LABELS and _contains(ctx, e[0])]
        self.rng.shuffle(options)
        for text, label, start, end in options:
            pool = [
                name
                for name, _ in article.get(label, Counter()).most_common()
                if not _contains(ctx, name)
                and not _related(name, text)
                and not any(_related(name, a) for a, _ in p.example.spans)
            ]
            if pool:
                new = self.rng.choice(pool[:20])
                return _swap(p.example.question, start, end, new), text, new
        return None

    def _entity_swap_near(
        self,
        p: _Parsed,
        article: dict[str, Counter[str]],
        sentences: dict[str, list[tuple[int, int]]],
        held: list[tuple[int, int]],
    ) -> tuple[str, str, str] | None:
        ex = p.example
        ctx = ex.context
        if not held:
            return None
        stop = self.nlp.Defaults.stop_words
        options = [e for e in p.ents if e[1] in ENTITY_LABELS and _contains(ctx, e[0])]
        self.rng.shuffle(options)
        for text, label, start, end in options:
            rest = {
                w for w in _words(ex.question[:start] + " " + ex.question[end:]) if w not in stop
            }
            for name, _ in article.get(label, Counter()).most_common():
                if (
                    not _contains(ctx, name)
                    or _related(name, text)
                    or any(_related(name, a) for a, _ in ex.spans)
                ):
                    continue
                spans = sentences.get(ctx, [])
                where = [k for k, (s, e) in enumerate(spans) if _contains(ctx[s:e], name)]
                beside = {k + d for k, span in enumerate(spans) if span in held for d in (-1, 0, 1)}
                if not where or beside & set(where):
                    continue  # named in or beside the answer's sentence: it may be what it says
                if rest and any(
                    len(rest & _words(ctx[spans[k][0] : spans[k][1]])) * NEAR_OVERLAP >= len(rest)
                    for k in where
                ):
                    continue  # a sentence that names it says much of what is asked: may answer
                return _swap(ex.question, start, end, name), text, name
        return None

    def _number_swap(
        self, p: _Parsed, article: dict[str, Counter[str]]
    ) -> tuple[str, str, str] | None:
        ctx = p.example.context
        for text, label, start, end in p.ents:
            if label not in NUMBER_LABELS or not _contains(ctx, text):
                continue
            match = _NUMBER.search(text)
            if match:
                value = float(match.group(0).replace(",", ""))
                steps = [1, 2, 3, 5, 10] if value < 100 else [0.5, 2, 3, 1.5]
                self.rng.shuffle(steps)
                for step in steps:
                    new_value = value * step if value >= 100 else value + step
                    new_text = _format_like(match.group(0), new_value)
                    new = text[: match.start()] + new_text + text[match.end() :]
                    if not _contains(ctx, new_text) and new != text:
                        return _swap(p.example.question, start, end, new), text, new
            lower = text.lower()
            if lower in NUMBER_WORDS:
                choices = [w for w in NUMBER_WORDS if w != lower and not _contains(ctx, w)]
                if choices:
                    new = _keep_case(text, self.rng.choice(choices))
                    return _swap(p.example.question, start, end, new), text, new
        return None

    def _date_swap(self, p: _Parsed) -> tuple[str, str, str] | None:
        ctx = p.example.context
        for text, label, start, end in p.ents:
            if label != "DATE" or not _contains(ctx, text):
                continue
            year = _YEAR.search(text)
            if year:
                old = int(year.group(0))
                shifts = [s for s in range(-15, 16) if s]
                self.rng.shuffle(shifts)
                for s in shifts:
                    new_year = str(old + s)
                    if not _contains(ctx, new_year):
                        new = text[: year.start()] + new_year + text[year.end() :]
                        return _swap(p.example.question, start, end, new), text, new
            decade = _DECADE.search(text)
            if decade:
                for s in self.rng.sample([-30, -20, -10, 10, 20, 30], 6):
                    new_dec = f"{int(decade.group(1)) * 10 + s}s"
                    if not _contains(ctx, new_dec):
                        new = text[: decade.start()] + new_dec + text[decade.end() :]
                        return _swap(p.example.question, start, end, new), text, new
            month = next((m for m in MONTHS if _contains(text, m)), None)
            if month:
                choices = [m for m in MONTHS if m != month and not _contains(ctx, m)]
                if choices:
                    new = re.sub(month, self.rng.choice(choices), text, flags=re.IGNORECASE)
                    return _swap(p.example.question, start, end, new), text, new
        return None

    def _ordinal_swap(self, p: _Parsed) -> tuple[str, str, str] | None:
        ctx = p.example.context
        for text, label, start, end in p.ents:
            if label != "ORDINAL" or any(t[4] == start and t[2] == "advmod" for t in p.tokens):
                continue  # "first announced": an adverb, whose swap reads as nonsense
            lower = text.lower()
            if lower in ORDINALS:
                choices = [o for o in ORDINALS[:8] if o != lower and not _contains(ctx, o)]
                suffixed = False
            else:
                m = re.fullmatch(r"(\d+)(st|nd|rd|th)", lower)
                if not m:
                    continue
                n = int(m.group(1))
                choices = [
                    _suffixed(k)
                    for k in range(max(1, n - 3), n + 4)
                    if k != n
                    and not _contains(ctx, _suffixed(k))
                    and not _contains(ctx, ORDINALS[k - 1] if k <= len(ORDINALS) else "")
                ]
                suffixed = True
            if choices:
                new = self.rng.choice(choices)
                new = new if suffixed else _keep_case(text, new)
                return _swap(p.example.question, start, end, new), text, new
        return None

    def _antonym(self, p: _Parsed) -> tuple[str, str, str] | None:
        ctx = p.example.context
        words = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(p.example.question)]
        self.rng.shuffle(words)
        for word, start, end in words:
            opposite = _ANTONYM.get(word.lower())
            if opposite and not _contains(ctx, opposite):
                new = _keep_case(word, opposite)
                return _swap(p.example.question, start, end, new), word, new
        return None

    def _negation(
        self, p: _Parsed, sentences: list[tuple[int, int]]
    ) -> tuple[str, str, str] | None:
        q, ctx = p.example.question, p.example.context
        if not sentences or NEGATION_CUES.search(q):
            return None
        if any(NEGATION_CUES.search(ctx[s:e]) for s, e in sentences):
            return None  # the answer's sentence states something negative: it might answer
        if p.aux >= 0:
            text, _, _, _, idx, _ = p.tokens[p.aux]
            contracted = _CONTRACTED.get(text.lower())
            if contracted is None:
                return None
            new = _keep_case(text, contracted)
            return _swap(q, idx, idx + len(text), new), text, new
        if p.root < 0 or any(t[0].lower() in _CONTRACTED or t[1] == "MD" for t in p.tokens):
            return None  # an auxiliary the parse did not tie to the verb: "do" would be wrong
        text, tag, _, lemma, idx, _ = p.tokens[p.root]
        do = {"VBD": "didn't", "VBZ": "doesn't", "VBP": "don't"}.get(tag)
        if do is None or not p.verb or not lemma.isalpha():
            return None
        new = f"{do} {lemma.lower()}"
        return _swap(q, idx, idx + len(text), new), text, new

    def _removed_fact(self, ex: Example, spans: list[tuple[int, int]]) -> NearMiss | None:
        if not spans:
            return None
        kept: list[str] = []
        pos = 0
        for s, e in spans:
            kept.append(ex.context[pos:s])
            pos = e
        kept.append(ex.context[pos:])
        rest = re.sub(r"[ \t]{2,}", " ", "".join(kept)).strip()
        if len(rest) < MIN_REST_CHARS or any(_contains(rest, a) for a, _ in ex.spans):
            return None
        removed = " ".join(ex.context[s:e] for s, e in spans)
        return NearMiss(
            f"{ex.id}-removed_fact",
            ex.title,
            ex.question,
            rest,
            "removed_fact",
            ex.id,
            ex.question,
            removed,
            "",
        )


def _suffixed(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }".replace(" ", "")


def _format_like(old: str, value: float) -> str:
    """``value`` written as ``old`` was: thousands separators and decimals kept."""
    decimals = len(old.split(".", 1)[1]) if "." in old else 0
    text = f"{value:,.{decimals}f}" if "," in old else f"{value:.{decimals}f}"
    return text


def balance(cases: Iterable[NearMiss], quotas: dict[str, int], *, seed: int = 13) -> list[NearMiss]:
    """A seeded sample of at most ``quotas[kind]`` cases of each kind (a kind not named is
    left out), at most one per source question, the rarer kinds choosing first."""
    by_kind: dict[str, list[NearMiss]] = defaultdict(list)
    for c in cases:
        by_kind[c.kind].append(c)
    rng = random.Random(seed)
    used: set[str] = set()
    picked: list[NearMiss] = []
    for kind in sorted(quotas, key=lambda k: (len(by_kind.get(k, [])), k)):
        pool = sorted(by_kind.get(kind, []), key=lambda c: c.id)
        rng.shuffle(pool)
        taken = 0
        for c in pool:
            if taken >= quotas[kind]:
                break
            if c.source_id in used:
                continue
            used.add(c.source_id)
            picked.append(c)
            taken += 1
    return picked


def save(cases: Sequence[NearMiss], path: str | Path, *, sources: Sequence[str]) -> None:
    """SQuAD 2.0 JSON (every question unanswerable), so ``train-reader --extra`` reads it as it
    reads any other source; each question keeps its kind and its original for people."""
    by_title: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for c in cases:
        qa = {
            "id": c.id,
            "question": c.question,
            "answers": [],
            "is_impossible": True,
            "near_miss": {
                k: v
                for k, v in c.to_dict().items()
                if k not in ("id", "title", "question", "context")
            },
        }
        by_title[c.title][c.context].append(qa)
    data = [
        {
            "title": title,
            "paragraphs": [{"context": ctx, "qas": qas} for ctx, qas in paragraphs.items()],
        }
        for title, paragraphs in by_title.items()
    ]
    counts = Counter(c.kind for c in cases)
    doc = {
        "version": "v2.0",
        "format": FORMAT,
        "format_version": VERSION,
        "sources": list(sources),
        "counts": dict(sorted(counts.items())),
        "data": data,
    }
    Path(path).write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")


def load(path: str | Path) -> list[NearMiss]:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a near-miss file (format {doc.get('format')!r})")
    out = []
    for article in doc["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                meta = qa["near_miss"]
                out.append(
                    NearMiss(
                        qa["id"],
                        article["title"],
                        qa["question"],
                        para["context"],
                        meta["kind"],
                        meta["source_id"],
                        meta["original"],
                        meta["replaced"],
                        meta["inserted"],
                    )
                )
    return out
