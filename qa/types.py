"""Typed records that flow through the pipeline.

Every offset is a ``[start, end)`` character range into ``Document.text``, the text exactly as it
was read from disk (decoded), so ``document.text[start:end]`` always reproduces what a passage or
answer shows. Cleaning never rewrites the text: it only marks which regions are article content.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

#: ``field(metadata=FLAT)``: the record's fields are written in place of the field in JSON
FLAT = {"flatten": True}


def _plain(value: Any) -> Any:
    """Recursively turn dataclasses into JSON-friendly dicts (tuples become lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            plain = _plain(getattr(value, f.name))
            if f.metadata.get("flatten"):
                out.update(plain)
            else:
                out[f.name] = plain
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class Serializable:
    """Mixin: ``to_dict()`` gives a JSON-serializable dict of the dataclass."""

    def to_dict(self) -> dict[str, Any]:
        result = _plain(self)
        assert isinstance(result, dict)
        return result


@dataclass(frozen=True)
class Meta(Serializable):
    """What a document says about itself and where it came from. Documents, the passages and
    citations cut from them and the index's listing all carry this one record, copied whole, and
    write its fields flat in their JSON (``"title": ...`` beside ``"doc_id": ...``)."""

    title: str = ""
    source: str | None = None
    date: str | None = None  # ISO 8601 (YYYY-MM-DD) when the article states one
    url: str | None = None
    path: str | None = None


class HasMeta:
    """``record.title`` and the other ``Meta`` fields read (and set) through ``record.meta``."""

    meta: Meta
    if TYPE_CHECKING:
        title: str
        source: str | None
        date: str | None
        url: str | None
        path: str | None


def _meta_field(name: str) -> property:
    def get(self: HasMeta) -> Any:
        return getattr(self.meta, name)

    def set_(self: HasMeta, value: Any) -> None:
        self.meta = dataclasses.replace(self.meta, **{name: value})

    return property(get, set_)


for _name in (f.name for f in dataclasses.fields(Meta)):
    setattr(HasMeta, _name, _meta_field(_name))


@dataclass
class Document(HasMeta, Serializable):
    """An article as loaded. ``content`` lists the regions that cleaning kept as article text."""

    id: str
    text: str
    meta: Meta = field(default_factory=Meta, metadata=FLAT)
    content: list[tuple[int, int]] = field(default_factory=list)
    author: str | None = None  # as the file states it (web page, PDF or Word metadata)

    def __post_init__(self) -> None:
        if not self.content:
            self.content = [(0, len(self.text))]


@dataclass
class Chunk(Serializable):
    """A run of whole sentences of one document; ``text == document.text[start:end]``."""

    doc_id: str
    index: int  # position of the chunk within its document
    start: int
    end: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc_id}#{self.index}"


#: values per list filter (``doc_ids``, ``sources``) a client may send: each is one SQL parameter
MAX_FILTER_VALUES = 1000


def _is_iso_date(value: str) -> bool:
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


@dataclass
class Filters(Serializable):
    """Restrict retrieval to some documents. Dates are ISO strings compared lexically."""

    doc_ids: list[str] | None = None
    sources: list[str] | None = None
    date_from: str | None = None
    date_to: str | None = None

    def __post_init__(self) -> None:
        # a date that is not one would compare lexically with every stored date and silently
        # match nothing (or everything)
        for key in ("date_from", "date_to"):
            value = getattr(self, key)
            if value is not None and not _is_iso_date(value):
                raise ValueError(f"filter {key!r} must be a date as YYYY-MM-DD, not {value!r}")

    def is_empty(self) -> bool:
        return not (self.doc_ids or self.sources or self.date_from or self.date_to)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Filters:
        data = data or {}
        unknown = set(data) - {"doc_ids", "sources", "date_from", "date_to"}
        if unknown:
            raise ValueError(f"unknown filter keys: {sorted(unknown)}")

        def as_list(key: str) -> list[str] | None:
            v = data.get(key)
            if v is None:
                return None
            if isinstance(v, str):
                return [v]
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ValueError(f"filter {key!r} must be a string or a list of strings")
            if len(v) > MAX_FILTER_VALUES:
                raise ValueError(
                    f"filter {key!r} has {len(v)} values; the limit is {MAX_FILTER_VALUES}"
                )
            return list(v)

        def as_str(key: str) -> str | None:
            v = data.get(key)
            if v is not None and not isinstance(v, str):
                raise ValueError(f"filter {key!r} must be an ISO date string")
            return v

        return cls(as_list("doc_ids"), as_list("sources"), as_str("date_from"), as_str("date_to"))


@dataclass
class Passage(HasMeta, Serializable):
    """A retrieved chunk with its citation fields and the scores that ranked it.

    ``scores`` explains the ranking: ``dense`` (cosine), ``bm25``, their 1-based ranks
    (``dense_rank``/``bm25_rank``, absent when the retriever did not return it) and ``fused``,
    the score they were ranked by (``score``).
    """

    doc_id: str
    chunk_index: int
    start: int
    end: int
    text: str
    meta: Meta = field(default_factory=Meta, metadata=FLAT)
    score: float = 0.0
    rank: int = 0
    scores: dict[str, float] = field(default_factory=dict)
    page: int | None = None  # 1-based page where the passage starts (PDFs; None: no pages)

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}#{self.chunk_index}"


@dataclass
class Span(Serializable):
    """A reader's candidate answer inside one passage, before aggregation.

    ``start``/``end`` are document offsets. ``score`` is the reader's confidence in [0, 1] that this
    span answers the question; ``features`` keeps the raw numbers behind it for explanations.
    """

    text: str
    doc_id: str
    start: int
    end: int
    score: float
    passage_rank: int = 0
    features: dict[str, float] = field(default_factory=dict)
    #: which answer this span states, when the reader grouped its spans by meaning (-1: not
    #: grouped); spans of one meaning share it and their score
    meaning: int = -1


@dataclass
class ReaderOutput(Serializable):
    """What a reader found in a set of passages: candidate spans, best first, and how likely it is
    that none of the passages answers the question (``no_answer`` in [0, 1])."""

    spans: list[Span]
    no_answer: float = 0.0
    features: dict[str, float] = field(default_factory=dict)


@dataclass
class Citation(HasMeta, Serializable):
    doc_id: str
    meta: Meta = field(metadata=FLAT)
    start: int  # the answer span in this document
    end: int
    sentence_start: int
    sentence_end: int
    page: int | None = None  # 1-based page of the answer span (PDFs; None: no pages)


@dataclass
class Answer(Serializable):
    """An extractive answer: ``text`` is ``document.text[start:end]`` of ``doc_id``."""

    text: str
    score: float
    doc_id: str
    start: int
    end: int
    sentence: str
    sentence_start: int
    sentence_end: int
    citations: list[Citation] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Unsupported(Serializable):
    """A part of a question that the closest candidate's sentence does not state (``kind``:
    name, number, ordinal or term), and what that sentence says in its place (``instead``,
    empty when nothing of the kind is there)."""

    text: str
    kind: str
    instead: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unsupported:
        return cls(str(data["text"]), str(data["kind"]), str(data.get("instead") or ""))

    def sentence(self) -> str:
        """In words, for a person: what the passage says instead, or that it says nothing."""
        if self.instead:
            return f"the passage says {self.instead}, not {self.text}"
        return f"the passage does not mention {self.text}"


@dataclass
class Refusal(Serializable):
    """Why there is no answer: the candidate the reader came closest to giving (``closest``,
    below the threshold, so *not stated* by the documents as far as the reader can tell; never an
    answer), the parts of the question that its sentence does not support, each with what the
    sentence says in its place, and the same in words."""

    closest: Answer
    unsupported: list[Unsupported] = field(default_factory=list)
    reason: str = ""
    stated: bool = False


@dataclass
class Result(Serializable):
    """The answer to one question: ``answer`` is None when the documents do not answer it, and
    then ``refusal`` says why, when the reader had any candidate at all."""

    question: str
    answer: Answer | None
    answers: list[Answer]
    passages: list[Passage]
    timings_ms: dict[str, float] = field(default_factory=dict)
    no_answer_score: float = 0.0
    threshold: float = 0.0
    refusal: Refusal | None = None


@dataclass
class LoadProblem(Serializable):
    path: str
    reason: str


@dataclass
class IndexReport(Serializable):
    """What an ``index`` call did: documents added (or replaced), chunks written, files skipped."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    chunks: int = 0
    problems: list[LoadProblem] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class DocumentInfo(HasMeta, Serializable):
    id: str
    meta: Meta = field(metadata=FLAT)
    chars: int
    chunks: int
