"""Candidate answers and the evidence for each, for the packaged-parts reader.

A passage is analysed once (spaCy parse, candidate spans, MiniLM sentence vectors) independently of
any question, so the reader can cache it; ``features`` then measures, for one question, how well
each candidate fits: is its sentence about the question (embedding similarity, shared words), are
question words right next to it or syntactically linked to it, is it the kind of thing asked for,
and is it more than a repeat of the question. The names in ``SPAN_FEATURES`` and
``NO_ANSWER_FEATURES`` are the columns the fitted weights (heuristic_weights.json) refer to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.answers import normalize_answer
from qa.readers.answer_types import ENTITY, MODIFIER, NUMERIC, PHRASE, AnswerType, detect

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Token

SPAN_FEATURES = (
    "sent_sim_gap",  # MiniLM cosine of its sentence with the question, minus the best sentence's
    "sent_lex_gap",  # share of question content words in its sentence, minus the best sentence's
    "best_sentence",  # its sentence is the one most similar to the question
    "window_lex",  # share of the question's content words within a few tokens of the candidate
    "proximity",  # 1 when a question word touches the candidate, decaying with distance
    "dep_link",  # the candidate's syntactic head (or a dependent) is a question word
    "tree_prox",  # 1 when a question word is next to it in the parse tree, decaying with distance
    "role_match",  # it fills the slot of the wh-word: same role, under the same question word
    "equated",  # "Who is the chairman?": the text equates it with "chairman" (apposition, "is")
    "type_match",  # its entity label is one the question asks for (who -> PERSON, ...)
    "type_primary",  # its label is the likeliest of those (PERSON for "who", GPE for "where")
    "type_mismatch",  # it has an entity label, but not one the question asks for
    "type_window",  # type_match x window_lex: the right kind of thing, among question words
    "type_dep",  # type_match x dep_link
    "untyped_name",  # a proper noun without entity label, for a question asking for an entity
    "phrase_fit",  # a plain noun phrase, for a question that asks for a phrase
    "modifier_fit",  # a modifier of the noun a "what kind of X" question names
    "is_modifier",  # a modifier (adjective, compound) rather than a whole phrase
    "head_near",  # the noun of "which X" stands next to it ("the news agency AFP")
    "q_overlap",  # share of its own content words that are question words (repeats)
    "q_overlap_any",  # it repeats at least one question word
    "len_1",  # its length in tokens, one-hot: 1, 2, 3, 4, 5-6, 7 or more
    "len_2",
    "len_3",
    "len_4",
    "len_5_6",
    "len_7_plus",
    "is_entity",  # a named entity, or a phrase headed by one
    "exact_entity",  # exactly a span the NER model recognized ("Alan Gagloev", not "president
    # Alan Gagloev")
    "is_long_phrase",  # a noun phrase with its attachments (prepositions, conjuncts)
    "is_list",  # a coordination ("A and B")
    "list_fit",  # a coordination, for a question asking for several ("which two regions")
    "passage_rank",  # 1 / retrieval rank of its passage
)
#: shown with each span to explain it, not model inputs: in a model that compares candidates
#: of one question, only differences between sentences matter (the ``_gap`` features above).
EXPLAIN_FEATURES = ("sent_sim", "sent_lex")
NO_ANSWER_FEATURES = (
    "best_p",  # span-model probability of the best candidate
    "max_sent_sim",  # how close the best sentence of any passage comes to the question
    "max_sent_lex",  # most question words any one sentence shares
    "q_coverage",  # share of the question's content words found anywhere in the passages
    "name_coverage",  # share of its names and numbers found anywhere (1 when it has none)
    "noun_coverage",  # share of its nouns found anywhere ("GDP" in a corpus that never says it)
    "best_type_match",  # the best candidate is of the asked-for type
    "best_window_lex",  # question words around the best candidate
)

_ENTITY, _CHUNK, _PHRASE, _MODIFIER, _NUMBER = 1, 2, 4, 8, 16
_LIST = 32  # flag: holds a coordination ("South Ossetia and Abkhazia")
_NAME_LABELS = {"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC"}
_WH = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}
_LIGHT_VERBS = {"be", "have", "do", "get", "let", "seem"}
_MAX_TOKENS = 10  # longer spans are clauses, not answers
_WINDOW = 5


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer  # PyStemmer, already installed for bm25s

    return Stemmer.Stemmer("english")


def is_content(tok: Token) -> bool:
    """A word that says what a sentence is about. spaCy's stop list is too broad for this (it
    holds "became", "third", "five", "name"), so nouns, numbers and verbs count unless they are
    light verbs; adjectives and adverbs count unless they are stop words ("many", "also")."""
    pos = tok.pos_
    if pos in {"NOUN", "PROPN", "NUM"} or tok.like_num:
        return True
    if pos == "VERB":
        return tok.lemma_.lower() not in _LIGHT_VERBS
    if pos in {"ADJ", "ADV"}:
        return not tok.is_stop
    return False


_ROLES = {
    "nsubj": "subj",
    "nsubjpass": "subj",
    "csubj": "subj",
    "agent": "subj",
    "dobj": "obj",
    "obj": "obj",
    "dative": "obj",
    "pobj": "pobj",
    "attr": "attr",
    "acomp": "attr",
    "oprd": "attr",
    "appos": "appos",
    "npadvmod": "adv",
    "advmod": "adv",
    "acl": "clause",
    "relcl": "clause",
}


def _role(dep: str) -> str:
    return _ROLES.get(dep, "other")


@dataclass
class Candidate:
    start: int  # token range [start, end) in the analysis
    end: int
    sent: int
    root: int
    label: str  # entity label, "" for a plain phrase
    kinds: int
    modified: int = -1  # for a modifier: the noun it modifies


@dataclass
class Analysis:
    """One passage text, parsed: tokens with their character offsets into that text, sentences,
    candidate spans and sentence vectors. Question-independent, so it can be cached."""

    text: str
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    lower: list[str] = field(default_factory=list)
    lemma: list[str] = field(default_factory=list)
    stem: list[str] = field(default_factory=list)
    content: list[bool] = field(default_factory=list)
    proper: list[bool] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    heads: list[int] = field(default_factory=list)
    sent_of: list[int] = field(default_factory=list)
    sentences: list[tuple[int, int]] = field(default_factory=list)  # token ranges
    candidates: list[Candidate] = field(default_factory=list)
    norms: list[str] = field(default_factory=list)  # SQuAD-normalized text of each candidate
    vectors: np.ndarray | None = None

    def sentence_text(self, i: int) -> str:
        s, e = self.sentences[i]
        return self.text[self.starts[s] : self.ends[e - 1]]

    def char_range(self, c: Candidate) -> tuple[int, int]:
        return self.starts[c.start], self.ends[c.end - 1]


def _blocks(text: str) -> list[tuple[int, int]]:
    """Lines, trimmed: a line break ends a sentence in news text (headings, captions), and parsing
    lines apart keeps a heading from becoming the subject of the next sentence."""
    out = []
    pos = 0
    for line in text.split("\n"):
        s, e = pos, pos + len(line)
        pos = e + 1
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def analyse(nlp: Language, texts: list[str]) -> list[Analysis]:
    """Parse texts in one batch (``nlp.pipe``) and collect their tokens and candidates."""
    blocks = [_blocks(t) for t in texts]
    flat = [t[s:e] for t, bl in zip(texts, blocks, strict=True) for s, e in bl]
    docs = iter(nlp.pipe(flat, batch_size=64))
    out = []
    for text, bl in zip(texts, blocks, strict=True):
        a = Analysis(text)
        for offset, _ in bl:
            _add_doc(a, next(docs), offset)
        _propagate_names(a)
        a.norms = [
            normalize_answer(text[a.starts[c.start] : a.ends[c.end - 1]]) for c in a.candidates
        ]
        out.append(a)
    return out


def _propagate_names(a: Analysis) -> None:
    """A surname alone ("Tibilov") often escapes the small NER model after the full name
    ("Leonid Tibilov") was recognized: give unlabeled proper nouns the label that the same word
    has in a recognized name elsewhere in the passage."""
    names: dict[str, str] = {}
    for c in a.candidates:
        if c.kinds & _ENTITY and c.label in _NAME_LABELS:
            for i in range(c.start, c.end):
                if a.proper[i]:
                    names.setdefault(a.lower[i], c.label)
    for c in a.candidates:
        if not c.label and a.proper[c.root] and a.lower[c.root] in names:
            c.label = names[a.lower[c.root]]


def _add_doc(a: Analysis, doc: Doc, offset: int) -> None:
    base = len(a.starts)
    stem = _stemmer().stemWord
    for tok in doc:
        a.starts.append(offset + tok.idx)
        a.ends.append(offset + tok.idx + len(tok.text))
        a.lower.append(tok.lower_)
        a.lemma.append(tok.lemma_.lower())
        a.stem.append(stem(tok.lower_))
        a.content.append(is_content(tok))
        a.proper.append(tok.pos_ == "PROPN")
        a.roles.append(_role(tok.dep_))
        a.heads.append(base + tok.head.i)
        a.sent_of.append(-1)
    seen: dict[tuple[int, int], Candidate] = {}
    for sent in doc.sents:
        s, e = sent.start, sent.end
        while s < e and (doc[s].is_space or (doc[s].is_punct and doc[s].text not in "“\"'‘(")):
            s += 1
        while e > s and doc[e - 1].is_space:
            e -= 1
        if e <= s:
            continue
        index = len(a.sentences)
        a.sentences.append((base + s, base + e))
        for i in range(s, e):
            a.sent_of[base + i] = index

    def add(start: int, end: int, root: int, label: str, kind: int, modified: int = -1) -> None:
        # trim punctuation and spaces at the edges, keep quotes only when they are paired inside
        while start < end and (doc[start].is_punct or doc[start].is_space):
            start += 1
        while end > start and (doc[end - 1].is_punct or doc[end - 1].is_space):
            end -= 1
        if end <= start or end - start > _MAX_TOKENS:
            return
        if "\n" in doc[start:end].text:  # a heading or caption running into the next line
            return
        if not any(a.content[base + i] or doc[i].like_num for i in range(start, end)):
            return
        sent = a.sent_of[base + start]
        if sent < 0 or a.sent_of[base + end - 1] != sent:
            return
        if any(doc[i].dep_ == "conj" and doc[i].head.i >= start for i in range(start, end)):
            kind |= _LIST
        key = (start, end)
        cand = seen.get(key)
        if cand is None:
            seen[key] = Candidate(
                base + start,
                base + end,
                sent,
                base + root,
                label,
                kind,
                base + modified if modified >= 0 else -1,
            )
        else:
            cand.kinds |= kind
            cand.label = cand.label or label
            if modified >= 0 and cand.modified < 0:
                cand.modified = base + modified

    entity_of: dict[int, tuple[int, int]] = {}
    for ent in doc.ents:
        add(ent.start, ent.end, ent.root.i, ent.label_, _ENTITY)
        for i in range(ent.start, ent.end):
            entity_of[i] = (ent.start, ent.end)
    for chunk in doc.noun_chunks:
        root = chunk.root
        if root.pos_ == "PRON":
            continue
        add(chunk.start, chunk.end, root.i, root.ent_type_, _CHUNK)
        left, right = root.left_edge.i, root.right_edge.i + 1
        if (left, right) != (chunk.start, chunk.end):
            add(left, right, root.i, root.ent_type_, _PHRASE)
    for tok in doc:
        if tok.dep_ in {"amod", "compound", "nummod", "npadvmod"} and tok.head.pos_ in {
            "NOUN",
            "PROPN",
        }:
            left, right = tok.left_edge.i, tok.right_edge.i + 1
            name = entity_of.get(tok.i)
            # a piece of a name ("Alan" of "Alan Alborov") is not a modifier
            if name is None or (name[0] >= left and name[1] <= right):
                add(left, right, tok.i, tok.ent_type_, _MODIFIER, tok.head.i)
        if tok.like_num and not tok.ent_type_:
            add(tok.i, tok.i + 1, tok.i, "CARDINAL", _NUMBER)
    a.candidates.extend(sorted(seen.values(), key=lambda c: (c.start, c.end)))


@dataclass
class Question:
    text: str
    type: AnswerType
    words: list[tuple[str, str, str]]  # content words: (lower, lemma, stem)
    names: list[int]  # indices into words of proper nouns and numbers
    nouns: list[int]  # indices into words of nouns, proper or common
    role: str = ""  # grammatical role of the asked-for phrase ("subj" in "Who became ...")
    anchor: int = -1  # index into words of the word that phrase depends on ("became")
    vector: np.ndarray | None = None

    def matcher(self) -> _Matcher:
        return _Matcher(self.words)


def parse_question(nlp: Language, text: str) -> Question:
    doc = nlp(text)
    stem = _stemmer().stemWord
    words: list[tuple[str, str, str]] = []
    names: list[int] = []
    nouns: list[int] = []
    seen: set[str] = set()
    for tok in doc:
        if tok.lower_ in _WH or not is_content(tok):
            continue
        key = tok.lemma_.lower()
        if key in seen:
            continue
        seen.add(key)
        if tok.pos_ == "PROPN" or tok.like_num:
            names.append(len(words))
        if tok.pos_ in {"NOUN", "PROPN"}:
            nouns.append(len(words))
        words.append((tok.lower_, key, stem(tok.lower_)))
    q = Question(text, detect(doc), words, names, nouns)
    q.role, anchor = _slot(doc)
    if anchor is not None:
        q.anchor = next((i for i, w in enumerate(words) if w[1] == anchor), -1)
    return q


def _slot(doc: Doc) -> tuple[str, str | None]:
    """The role of the phrase the wh-word stands for and the lemma it hangs on: in "Who became
    the president?" a subject of "become"; in "Which military did he serve in?" the object of a
    preposition attached to "serve". An answer tends to fill the same slot in its sentence."""
    wh = next((t for t in doc if t.lower_ in _WH), None)
    if wh is None:
        return "", None
    slot = wh
    if wh.dep_ in {"det", "poss"}:
        slot = wh.head
    elif wh.lower_ == "how" and wh.head.lower_ in {"many", "much"}:
        slot = wh.head.head if wh.head.dep_ == "amod" else wh.head
    anchor = slot.head
    if slot.dep_ == "pobj":
        anchor = anchor.head
    if anchor.i == slot.i:
        return _role(slot.dep_), None
    if anchor.lemma_ == "be":
        # "Who is the chairman of X?": the answer is whatever the text equates with "chairman"
        other = next(
            (t for t in anchor.children if t.i != slot.i and _role(t.dep_) in {"subj", "attr"}),
            None,
        )
        if other is not None and other.pos_ in {"NOUN", "PROPN"}:
            return "copula", other.lemma_.lower()
    return _role(slot.dep_), anchor.lemma_.lower()


class _Matcher:
    """Which question word (if any) a passage word is: same lemma, same stem, or the same word
    up to an ending ("Tskhinval" / "Tskhinvali", "Russia" / "Russian")."""

    def __init__(self, words: list[tuple[str, str, str]]) -> None:
        self.words = words
        self.memo: dict[tuple[str, str, str], int] = {}

    def __call__(self, lower: str, lemma: str, stem: str) -> int:
        key = (lower, lemma, stem)
        hit = self.memo.get(key)
        if hit is None:
            hit = -1
            for i, (ql, qlem, qs) in enumerate(self.words):
                if lower == ql or lemma == qlem or stem == qs or _near(lower, ql):
                    hit = i
                    break
            self.memo[key] = hit
        return hit


def _near(a: str, b: str) -> bool:
    short = min(len(a), len(b))
    if short < 5:
        return False
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n >= 5 and n >= 0.8 * short and abs(len(a) - len(b)) <= 2


@dataclass
class Scored:
    """Candidates of all passages for one question with their feature rows."""

    refs: list[tuple[int, Candidate]]  # (passage index, candidate)
    x: np.ndarray  # (n, len(SPAN_FEATURES))
    explain: np.ndarray  # (n, len(EXPLAIN_FEATURES))
    question_features: dict[str, float]  # the no-answer inputs except best_p
    index: list[int] = field(default_factory=list)  # position of each candidate in its analysis


def features(q: Question, analyses: list[Analysis], ranks: list[int]) -> Scored:
    """Feature rows for every candidate of every passage. ``ranks``: 1-based retrieval ranks."""
    match = q.matcher()
    nq = max(len(q.words), 1)
    assert q.vector is not None
    matched_any: set[int] = set()
    per_passage = []
    sims_all: list[float] = []
    lex_all: list[float] = []
    for a in analyses:
        hits = [
            match(a.lower[i], a.lemma[i], a.stem[i])
            if a.content[i] or a.lower[i][:1].isdigit()
            else -1
            for i in range(len(a.lower))
        ]
        sims = (a.vectors @ q.vector).tolist() if a.vectors is not None and len(a.sentences) else []
        lex = []
        for s, e in a.sentences:
            found = {h for h in hits[s:e] if h >= 0}
            matched_any |= found
            lex.append(len(found) / nq)
        per_passage.append((hits, sims, lex))
        sims_all.extend(sims)
        lex_all.extend(lex)
    best_sim = max(sims_all, default=0.0)
    best_lex = max(lex_all, default=0.0)
    qwords = {w[1] for w in q.words} | {w[0] for w in q.words}
    at = q.type
    primary = at.primary
    refs: list[tuple[int, Candidate]] = []
    index: list[int] = []
    rows: list[list[float]] = []
    explain: list[list[float]] = []
    for pi, (a, (hits, sims, lex)) in enumerate(zip(analyses, per_passage, strict=True)):
        rank_feature = 1.0 / max(ranks[pi], 1)
        for ci, c in enumerate(a.candidates):
            own = [i for i in range(c.start, c.end) if a.content[i]]
            repeats = sum(1 for i in own if hits[i] >= 0)
            if own and repeats == len(own):
                continue  # nothing but question words: never the answer
            if not own and all(a.lower[i] in qwords for i in range(c.start, c.end)):
                continue
            s, e = a.sentences[c.sent]
            dist = _distance(hits, s, e, c.start, c.end)
            window = {
                hits[i]
                for i in range(max(s, c.start - _WINDOW), min(e, c.end + _WINDOW))
                if (i < c.start or i >= c.end) and hits[i] >= 0
            }
            label_ok = bool(at.labels) and c.label in at.labels
            is_entity = bool(c.kinds & (_ENTITY | _NUMBER)) or bool(c.label)
            modifier = bool(c.kinds & _MODIFIER) and not c.kinds & (_CHUNK | _ENTITY)
            modifier_fit = 0.0
            if at.form == MODIFIER and modifier and c.modified >= 0:
                modifier_fit = 1.0 if a.lemma[c.modified] == at.head else 0.4
            n_tokens = c.end - c.start
            sim = sims[c.sent] if sims else 0.0
            dep = _dep_link(a, hits, c)
            f = {
                "sent_sim_gap": sim - best_sim,
                "sent_lex_gap": lex[c.sent] - best_lex,
                "best_sentence": 1.0 if sims and sim >= best_sim else 0.0,
                "window_lex": len(window) / nq,
                "proximity": 0.0 if dist is None else math.exp(-(dist - 1) / 3.0),
                "dep_link": dep,
                "tree_prox": _tree_prox(a, hits, c, s, e),
                "role_match": _role_match(a, hits, c, q),
                "equated": _equated(a, hits, c, q.anchor, s, e) if q.role == "copula" else 0.0,
                "type_match": 1.0 if label_ok else 0.0,
                "type_primary": 1.0 if label_ok and c.label == primary else 0.0,
                "type_mismatch": 1.0 if at.labels and c.label and not label_ok else 0.0,
                "type_window": len(window) / nq if label_ok else 0.0,
                "type_dep": dep if label_ok else 0.0,
                "untyped_name": 1.0
                if at.form == ENTITY and not c.label and a.proper[c.root]
                else 0.0,
                "phrase_fit": 1.0 if at.form == PHRASE and not is_entity and not modifier else 0.0,
                "modifier_fit": modifier_fit,
                "is_modifier": 1.0 if modifier else 0.0,
                "head_near": _head_near(a, c, at.head, s, e),
                "q_overlap": repeats / max(len(own), 1),
                "q_overlap_any": 1.0 if repeats else 0.0,
                "len_1": 1.0 if n_tokens == 1 else 0.0,
                "len_2": 1.0 if n_tokens == 2 else 0.0,
                "len_3": 1.0 if n_tokens == 3 else 0.0,
                "len_4": 1.0 if n_tokens == 4 else 0.0,
                "len_5_6": 1.0 if 5 <= n_tokens <= 6 else 0.0,
                "len_7_plus": 1.0 if n_tokens >= 7 else 0.0,
                "is_entity": 1.0 if is_entity else 0.0,
                "exact_entity": 1.0 if c.kinds & _ENTITY else 0.0,
                "is_long_phrase": 1.0 if c.kinds & ~_LIST == _PHRASE else 0.0,
                "is_list": 1.0 if c.kinds & _LIST else 0.0,
                "list_fit": 1.0 if c.kinds & _LIST and at.plural else 0.0,
                "passage_rank": rank_feature,
            }
            rows.append([f[name] for name in SPAN_FEATURES])
            explain.append([sim, lex[c.sent]])
            refs.append((pi, c))
            index.append(ci)

    def share_found(indices: list[int]) -> float:
        return sum(1 for i in indices if i in matched_any) / len(indices) if indices else 1.0

    qf = {
        "max_sent_sim": best_sim,
        "max_sent_lex": best_lex,
        "q_coverage": len(matched_any) / nq if q.words else 0.0,
        "name_coverage": share_found(q.names),
        "noun_coverage": share_found(q.nouns),
    }
    x = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(SPAN_FEATURES))
    ex = np.asarray(explain, dtype=np.float64).reshape(len(rows), len(EXPLAIN_FEATURES))
    return Scored(refs, x, ex, qf, index)


def _distance(hits: list[int], s: int, e: int, cs: int, ce: int) -> int | None:
    """Tokens between the candidate and the nearest question word of its sentence."""
    best = None
    for i in range(cs - 1, s - 1, -1):
        if hits[i] >= 0:
            best = cs - i
            break
    for i in range(ce, e):
        if hits[i] >= 0:
            d = i - ce + 1
            best = d if best is None else min(best, d)
            break
    return best


def _dep_link(a: Analysis, hits: list[int], c: Candidate) -> float:
    head = a.heads[c.root]
    if not (c.start <= head < c.end) and hits[head] >= 0:
        return 1.0
    s, e = a.sentences[c.sent]
    for i in range(s, e):
        if (i < c.start or i >= c.end) and a.heads[i] == c.root and hits[i] >= 0:
            return 0.7
    grand = a.heads[head]
    if not (c.start <= grand < c.end) and hits[grand] >= 0:
        return 0.5
    return 0.0


def _tree_prox(a: Analysis, hits: list[int], c: Candidate, s: int, e: int) -> float:
    """exp(-(d - 1) / 2) for the shortest path d in the dependency tree between the candidate's
    root and a question word of its sentence outside it; 0 when there is none."""
    depth: dict[int, int] = {}
    node, d = c.root, 0
    while node not in depth:
        depth[node] = d
        node, d = a.heads[node], d + 1
    best: int | None = None
    for i in range(s, e):
        if hits[i] < 0 or c.start <= i < c.end:
            continue
        node, steps = i, 0
        while node not in depth and steps <= e - s:
            node, steps = a.heads[node], steps + 1
        if node in depth:
            dist = steps + depth[node]
            best = dist if best is None else min(best, dist)
    return 0.0 if best is None else math.exp(-(best - 1) / 2.0)


def _role_match(a: Analysis, hits: list[int], c: Candidate, q: Question) -> float:
    """1 when the candidate hangs on the question's anchor word in the wh-phrase's role, 0.5 in
    another role."""
    if q.anchor < 0:
        return 0.0
    s, e = a.sentences[c.sent]
    if q.role == "copula":
        return 0.0
    for i in range(s, e):
        # "Nagorno Karabakh, administered by Azerbaijan": a participle or relative clause on
        # the candidate says what "Which territory is administered by ..." asks
        if a.heads[i] == c.root and a.roles[i] == "clause" and hits[i] == q.anchor:
            return 1.0 if q.role == "subj" else 0.5
    head = a.heads[c.root]
    if a.roles[c.root] == "pobj":
        head = a.heads[head]
    if c.start <= head < c.end or hits[head] != q.anchor:
        return 0.0
    return 1.0 if a.roles[c.root] == q.role else 0.5


def _equated(a: Analysis, hits: list[int], c: Candidate, anchor: int, s: int, e: int) -> float:
    """1 when the text equates the candidate with the question's noun: apposition ("Alan
    Alborov, the chairman of ...") or copula ("Alborov is the chairman")."""
    root, head = c.root, a.heads[c.root]
    if a.roles[root] == "appos" and hits[head] == anchor and not c.start <= head < c.end:
        return 1.0
    for i in range(s, e):
        if c.start <= i < c.end or hits[i] != anchor:
            continue
        if a.heads[i] == root and a.roles[i] == "appos":
            return 1.0
        # both arguments of one "be": subject and attribute
        if (
            a.heads[i] == head
            and a.lemma[head] == "be"
            and {a.roles[i], a.roles[root]}
            == {
                "subj",
                "attr",
            }
        ):
            return 1.0
    return 0.0


def _head_near(a: Analysis, c: Candidate, head: str | None, s: int, e: int) -> float:
    if not head:
        return 0.0
    for i in range(max(s, c.start - 3), min(e, c.end + 3)):
        if (i < c.start or i >= c.end) and a.lemma[i] == head:
            return 1.0
    return 1.0 if a.lemma[a.heads[c.root]] == head else 0.0


SCORE_FEATURES = (
    "log_p_span",  # log of the span model's probability (its share among all candidates)
    "no_answer_logit",  # the no-answer model's log-odds that no passage answers
    "is_top",  # the best of the question's candidates
    "sent_sim",  # absolute MiniLM cosine of its sentence with the question
    "window_lex",
    "type_match",
)


def score_row(
    p_span: float, no_answer: float, is_top: bool, x: np.ndarray, explain: np.ndarray
) -> np.ndarray:
    """The final score model's inputs for one candidate."""
    na = min(max(no_answer, 1e-6), 1 - 1e-6)
    return np.array(
        [
            math.log(max(p_span, 1e-6)),
            math.log(na / (1 - na)),
            1.0 if is_top else 0.0,
            float(explain[EXPLAIN_FEATURES.index("sent_sim")]),
            float(x[SPAN_FEATURES.index("window_lex")]),
            float(x[SPAN_FEATURES.index("type_match")]),
        ]
    )


def question_row(qf: dict[str, float], best_p: float, best: np.ndarray | None) -> np.ndarray:
    """The no-answer model's inputs, from the question-level features and the best candidate."""
    idx = SPAN_FEATURES.index
    return np.array(
        [
            best_p,
            qf["max_sent_sim"],
            qf["max_sent_lex"],
            qf["q_coverage"],
            qf["name_coverage"],
            qf["noun_coverage"],
            0.0 if best is None else float(best[idx("type_match")]),
            0.0 if best is None else float(best[idx("window_lex")]),
        ]
    )


__all__ = [
    "ENTITY",
    "EXPLAIN_FEATURES",
    "NO_ANSWER_FEATURES",
    "NUMERIC",
    "SCORE_FEATURES",
    "SPAN_FEATURES",
    "Analysis",
    "Candidate",
    "Question",
    "Scored",
    "analyse",
    "features",
    "parse_question",
    "question_row",
    "score_row",
]
