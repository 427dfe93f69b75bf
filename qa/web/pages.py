"""The web form: ``/`` asks (server-rendered GET form, so ``/?q=...`` is shareable and works
without JavaScript), ``/documents/<id>`` shows an article with the cited passage and the answer
highlighted and scrolled into view (``#answer``), and ``/add`` uploads files through
``POST /api/documents`` (the page's script sends them with the token the user types in)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from markupsafe import Markup

from qa.errors import QAError, StoreUnavailable
from qa.types import Answer, Passage, Refusal, Result
from qa.web.context import state
from qa.web.errors import ApiError
from qa.web.render import Mark, highlight

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)


@dataclass
class Source:
    doc_id: str
    title: str
    meta: str  # "source · date · p. 3"
    href: str


@dataclass
class AnswerView:
    text: str
    score: float
    sentence: Markup
    sources: list[Source]


@dataclass
class PassageView:
    rank: int
    source: Source
    text: Markup
    has_answer: bool


@dataclass
class ResultView:
    question: str
    answer: AnswerView | None
    others: list[AnswerView] = field(default_factory=list)
    passages: list[PassageView] = field(default_factory=list)
    total_ms: float = 0.0
    no_answer_score: float = 0.0
    refusal: RefusalView | None = None


@dataclass
class RefusalView:
    """The closest candidate of a refusal, shown as what the documents do *not* state."""

    closest: AnswerView
    reason: str


#: what the form says while the store cannot be reached
STORE_UNAVAILABLE = (
    "The articles cannot be reached right now, so no question can be answered. This is on our "
    "side, not your question: try again in a few seconds."
)


@bp.get("/")
def index() -> Response:
    web = state()
    question = request.args.get("q", "")
    view: ResultView | None = None
    error: str | None = None
    status = 200
    headers: dict[str, str] = {}
    documents = []
    try:
        if question.strip():
            try:
                result = web.run(web.service.ask, question)
            except QAError as exc:
                if exc.status >= 500:
                    raise
                error, status = str(exc), exc.status
            else:
                web.metrics.observe_result(result.timings_ms, result.answer is not None)
                view = _result_view(result)
        else:
            documents = web.service.documents()
    except StoreUnavailable as exc:
        log.warning("%s %s: %s (%s)", request.method, request.path, exc, exc.__cause__)
        error, status = STORE_UNAVAILABLE, exc.status
        headers["Retry-After"] = str(exc.retry_after)
    page = render_template("index.html", q=question, view=view, error=error, documents=documents)
    return Response(page, status=status, headers=headers, mimetype="text/html")


@bp.get("/add")
def add() -> str:
    from qa.ingest.load import SUFFIXES

    settings = state().settings
    return render_template(
        "add.html",
        accept=",".join(sorted(SUFFIXES)),
        max_upload_bytes=settings.server.max_body_bytes,
        max_file_bytes=min(settings.limits.max_file_bytes, settings.server.max_body_bytes),
        writable=bool(settings.server.api_token),
    )


@bp.get("/documents/<doc_id>")
def document(doc_id: str) -> str:
    web = state()
    doc, info = web.service.document(doc_id)
    n = len(doc.text)
    answer = _range_arg("start", "end", n)
    passage = _range_arg("pstart", "pend", n)
    marks = [Mark(a, b, "span", "aside") for a, b in _gaps(doc.content, n)]
    if passage:
        marks.append(Mark(*passage, tag="span", css="passage", anchor="passage"))
    if answer:
        marks.append(Mark(*answer, tag="mark", css="answer", anchor="answer"))
    return render_template(
        "document.html",
        doc=doc,
        info=info,
        body=highlight(doc.text, marks),
        url=doc.url if doc.url and doc.url.startswith(("https://", "http://")) else None,
        answer_text=doc.text[answer[0] : answer[1]] if answer else None,
        has_boilerplate=bool(_gaps(doc.content, n)),
        q=request.args.get("q", ""),
    )


# -- view models ---------------------------------------------------------------------------------


def _result_view(result: Result) -> ResultView:
    q = result.question
    answers = [_answer_view(a, result.passages, q) for a in result.answers]
    best = result.answer
    # every passage retrieved, answer or not, as `qa ask` prints them: the same question gives
    # the same list in both
    shown = result.passages
    return ResultView(
        question=q,
        answer=answers[0] if best and answers else None,
        others=answers[1:] if best else [],
        passages=[_passage_view(p, best, q) for p in shown],
        total_ms=float(result.timings_ms.get("total", 0.0)),
        no_answer_score=result.no_answer_score,
        refusal=_refusal_view(result.refusal, result.passages, q)
        if result.refusal and not best
        else None,
    )


def _refusal_view(refusal: Refusal, passages: list[Passage], q: str) -> RefusalView:
    """The closest candidate, marked as a candidate, never as an answer."""
    return RefusalView(_answer_view(refusal.closest, passages, q, "candidate"), refusal.reason)


def _answer_view(
    answer: Answer, passages: list[Passage], q: str, css: str = "answer"
) -> AnswerView:
    a = answer.start - answer.sentence_start
    b = answer.end - answer.sentence_start
    tag = "mark" if css == "answer" else "span"
    sentence = highlight(answer.sentence, [Mark(a, b, tag=tag, css=css)])
    sources = []
    for c in answer.citations:
        holder = _passage_holding(passages, c.doc_id, c.start, c.end)
        href = _doc_href(c.doc_id, q, (c.start, c.end), holder, "answer")
        meta = _meta(c.source, c.date, c.page)
        sources.append(Source(c.doc_id, c.title or c.doc_id, meta, href))
    return AnswerView(answer.text, answer.score, sentence, sources)


def _passage_view(p: Passage, answer: Answer | None, q: str) -> PassageView:
    marks = []
    span = None
    if answer and answer.doc_id == p.doc_id and p.start <= answer.start and answer.end <= p.end:
        span = (answer.start, answer.end)
        marks.append(Mark(answer.start - p.start, answer.end - p.start, css="answer"))
    href = _doc_href(p.doc_id, q, span, (p.start, p.end), "answer" if span else "passage")
    source = Source(p.doc_id, p.title or p.doc_id, _meta(p.source, p.date, p.page), href)
    return PassageView(p.rank, source, highlight(p.text, marks), span is not None)


def _passage_holding(
    passages: list[Passage], doc_id: str, start: int, end: int
) -> tuple[int, int] | None:
    for p in passages:
        if p.doc_id == doc_id and p.start <= start and end <= p.end:
            return (p.start, p.end)
    return None


def _doc_href(
    doc_id: str,
    q: str,
    answer: tuple[int, int] | None,
    passage: tuple[int, int] | None,
    anchor: str,
) -> str:
    params: dict[str, Any] = {}
    if answer:
        params |= {"start": answer[0], "end": answer[1]}
    if passage:
        params |= {"pstart": passage[0], "pend": passage[1]}
    if q:
        params["q"] = q
    return url_for("pages.document", doc_id=doc_id, _anchor=anchor, **params)


def _meta(source: str | None, date: str | None, page: int | None = None) -> str:
    return " · ".join(x for x in (source, date, f"p. {page}" if page else None) if x)


# -- request parsing -----------------------------------------------------------------------------


def _range_arg(start_name: str, end_name: str, n: int) -> tuple[int, int] | None:
    raw_start, raw_end = request.args.get(start_name), request.args.get(end_name)
    if raw_start is None and raw_end is None:
        return None
    try:
        start, end = int(raw_start or ""), int(raw_end or "")
    except ValueError:
        raise ApiError(
            400, f"{start_name} and {end_name} must both be character offsets (integers)"
        ) from None
    if not 0 <= start <= end <= n:
        raise ApiError(400, f"{start_name}-{end_name} must lie within the document (0-{n})")
    return start, end


def _gaps(content: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """The regions cleaning did not keep as article text (shown dimmed, never hidden)."""
    gaps, pos = [], 0
    for a, b in sorted(content):
        if a > pos:
            gaps.append((pos, a))
        pos = max(pos, b)
    if pos < n:
        gaps.append((pos, n))
    return gaps
