"""Ask every question of a data set, in batches, and score the results.

Three modes: ``open-domain`` (each question asked of the whole collection, as a user would),
``gold-passage`` (the reader alone, on the question's own paragraph) and ``retrieval`` (BEIR:
ranked documents only).
"""

from __future__ import annotations

import random
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from tqdm import tqdm

from qa.eval import metrics as M
from qa.eval.formats import BeirData
from qa.eval.squad import Dataset, Example
from qa.eval.targets import HTTP_BATCH, Target

T = TypeVar("T")

#: passages retrieved per question for the ranking metrics (recall@20 needs 20)
RANK_DEPTH = 20
#: documents ranked per BEIR query (recall@100)
BEIR_DEPTH = 100
#: timing keys reported per stage, in pipeline order
STAGES = ("retrieve", "read", "cite", "http", "total")


@dataclass
class Prediction:
    """One question's outcome, kept for the report and the JSON file."""

    id: str
    question: str
    qtype: str
    answers: list[str] = field(default_factory=list)
    gold_docs: list[str] = field(default_factory=list)
    prediction: str = ""  # what was given ("" when it abstained)
    candidate: str | None = None  # the reader's best span whatever its confidence
    confidence: float | None = None
    answered: bool = False
    answer_doc: str | None = None
    no_answer_score: float | None = None
    exact: int = 0
    f1: float = 0.0
    first_relevant: int | None = None  # 1-based rank of the first relevant passage (None: none)
    passages: list[dict[str, Any]] = field(default_factory=list)  # what the reader saw (no text)
    #: the passage that holds the best span (else the top passage), to show with a miss
    evidence: dict[str, Any] | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evaluation:
    """The summary (flat keys, the ``--json-only`` object) and what the report plots."""

    summary: dict[str, Any]
    predictions: list[Prediction]
    calibration_bins: list[dict[str, float]] = field(default_factory=list)
    hit_curve: list[float] = field(default_factory=list)
    scored: list[M.Scored] = field(default_factory=list)


def sample(items: Sequence[T], limit: int | None, seed: int) -> list[T]:
    """A seeded random subset, kept in data order, so ``--limit N --seed S`` is stable."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise ValueError("--limit must be at least 1")
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Whether a passage holds a gold answer, compared after SQuAD normalization on word
    boundaries (so "1911" is not found in "19110")."""
    haystack = f" {M.squad_words(text)} "
    return any(norm and f" {norm} " in haystack for norm in (M.squad_words(a) for a in answers))


def run(
    data: Dataset | BeirData,
    target: Target,
    *,
    gold_passage: bool = False,
    limit: int | None = None,
    seed: int = 0,
    batch_size: int = HTTP_BATCH,
    progress: bool = True,
) -> Evaluation:
    started = time.perf_counter()
    if isinstance(data, BeirData):
        if gold_passage:
            raise ValueError("--gold-passage needs questions with answers; BEIR has none")
        evaluation = _run_beir(data, target, limit, seed, batch_size, progress)
    else:
        evaluation = _run_qa(data, target, gold_passage, limit, seed, batch_size, progress)
    evaluation.summary["seconds"] = round(time.perf_counter() - started, 1)
    evaluation.summary = _ordered(evaluation.summary)
    return evaluation


#: keys that say what was measured come first in the JSON, then the figures
LEADING = ("mode", "data", "format", "target", "reader", "threshold", "counts", "limit", "seed")


def _ordered(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in LEADING if k in summary} | {
        k: v for k, v in summary.items() if k not in LEADING
    }


# -- question answering ----------------------------------------------------------------------------


def _run_qa(
    data: Dataset,
    target: Target,
    gold_passage: bool,
    limit: int | None,
    seed: int,
    batch_size: int,
    progress: bool,
) -> Evaluation:
    examples = sample(data.examples, limit, seed)
    mode = "gold-passage" if gold_passage else "open-domain"
    if gold_passage and data.kind != "squad":
        raise ValueError("--gold-passage needs SQuAD data (each question's own paragraph)")
    by_id = {d.id: d for d in data.documents}
    indexing = time.perf_counter()
    if data.kind == "squad" and not (gold_passage and target.reads_directly):
        # open-domain asks the whole collection; over HTTP gold-passage filters to the paragraph
        target.ensure_documents(data.documents)
    elif data.kind == "jsonl":
        target.ensure_default_index()
    index_seconds = round(time.perf_counter() - indexing, 1)

    # one untimed question first: models and lazily built indexes load on first use, and that
    # is start-up cost, not the latency a user of a running service sees
    if gold_passage:
        target.read(examples[0].question, by_id[examples[0].gold_docs[0]])
    else:
        target.ask([examples[0].question])
    results: list[dict[str, Any]] = []
    bar = tqdm(
        total=len(examples),
        desc=f"qa eval ({mode})",
        unit="q",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    with bar:
        if gold_passage:
            for ex in examples:
                results.append(target.read(ex.question, by_id[ex.gold_docs[0]]))
                bar.update(1)
        else:
            for batch in _batches(examples, batch_size):
                results += target.ask([ex.question for ex in batch])
                bar.update(len(batch))
    rankings: list[list[dict[str, Any]]] = []
    if not gold_passage:
        for batch in _batches(examples, max(batch_size, 64)):
            rankings += target.search([ex.question for ex in batch], RANK_DEPTH)
    predictions = [
        _predict(ex, r, rankings[i] if rankings else None, target, data.kind)
        for i, (ex, r) in enumerate(zip(examples, results, strict=True))
    ]
    evaluation = _summarize_qa(data, examples, predictions, target, mode, limit, seed)
    evaluation.summary["index_seconds"] = index_seconds
    return evaluation


def _predict(
    ex: Example,
    result: dict[str, Any],
    ranking: list[dict[str, Any]] | None,
    target: Target,
    kind: str,
) -> Prediction:
    answer = result.get("answer")
    candidate = answer["text"] if answer else None
    confidence = float(answer["score"]) if answer else None
    answered = answer is not None and (confidence or 0.0) >= target.threshold
    citations = (answer or {}).get("citations") or []
    answer_doc = citations[0]["doc_id"] if citations else (answer or {}).get("doc_id")
    s = M.score_prediction(ex.answers, candidate, confidence, answered)
    relevant = _relevance(ex, kind)
    first = None
    for i, p in enumerate(ranking if ranking is not None else result.get("passages", []), 1):
        if relevant(p):
            first = i
            break
    return Prediction(
        id=ex.id,
        question=ex.question,
        qtype=M.question_type(ex.question),
        answers=ex.answers,
        gold_docs=ex.gold_docs,
        prediction=candidate if s.answered and candidate else "",
        candidate=candidate,
        confidence=confidence,
        answered=s.answered,
        answer_doc=answer_doc if s.answered else None,
        no_answer_score=result.get("no_answer_score"),
        exact=s.exact,
        f1=round(s.f1, 4),
        first_relevant=first,
        passages=[
            {k: p.get(k) for k in ("doc_id", "chunk_index", "rank", "score", "title")}
            for p in result.get("passages", [])[:5]
        ],
        evidence=_evidence(answer, result.get("passages", [])),
        timings_ms={k: float(v) for k, v in (result.get("timings_ms") or {}).items()},
    )


def _evidence(
    answer: dict[str, Any] | None, passages: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Only one passage's text is kept per question: a full SQuAD run would otherwise write
    tens of megabytes of passages nobody reads."""
    chosen = None
    if answer:
        chosen = next(
            (
                p
                for p in passages
                if p.get("doc_id") == answer.get("doc_id")
                and p.get("start", 0) <= answer.get("start", -1)
                and answer.get("end", 0) <= p.get("end", -1)
            ),
            None,
        )
    chosen = chosen or (passages[0] if passages else None)
    if chosen is None:
        return None
    return {k: chosen.get(k) for k in ("doc_id", "chunk_index", "start", "text")}


def _relevance(ex: Example, kind: str) -> Any:
    """SQuAD: a passage is relevant when it holds a gold answer; jsonl: when it belongs to a gold
    document (our questions name their documents; short answers like "Crimea" recur in others)."""
    if kind == "jsonl":
        gold = set(ex.gold_docs)
        return lambda p: p.get("doc_id") in gold
    return lambda p: bool(ex.answers) and contains_answer(p.get("text") or "", ex.answers)


def _summarize_qa(
    data: Dataset,
    examples: list[Example],
    predictions: list[Prediction],
    target: Target,
    mode: str,
    limit: int | None,
    seed: int,
) -> Evaluation:
    scored = [
        M.score_prediction(p.answers, p.candidate, p.confidence, p.answered) for p in predictions
    ]
    summary = _empty_summary()
    summary.update(target.describe())
    summary.update(M.squad_summary(scored))
    # the reader's first choice whatever its confidence: what ranking alone is worth, apart from
    # the decision to abstain
    answerable = [s for s in scored if s.answerable]
    if answerable:
        summary["has_answer_f1_first_choice"] = round(
            100 * sum(s.candidate_f1 for s in answerable) / len(answerable), 2
        )
    has_unanswerable = any(not s.answerable for s in scored)
    if has_unanswerable or target.sees_below_threshold:
        t, f1 = M.best_threshold(scored, "f1")
        _, em = M.best_threshold(scored, "exact")
        summary.update(best_threshold=t, best_threshold_f1=f1, best_threshold_exact=em)

    # ranking: questions with something to find (an answer, or a gold document)
    ranked = [p for p in predictions if p.answers and (data.kind != "jsonl" or p.gold_docs)]
    curve: list[float] = []
    if mode == "open-domain" and ranked:
        qrels, run = _first_hit_qrels(ranked)
        summary.update(M.ranking_metrics(qrels, run, M.QA_RANKING))
        curve = M.hit_curve([p.first_relevant for p in ranked], RANK_DEPTH)

    # calibration: is a span given with confidence c right c of the time? "Right" as the shipped
    # reader's calibration defines it: token F1 >= 0.5 to a gold answer (on an unanswerable
    # question every span is wrong)
    with_conf = [s for s in scored if s.candidate is not None and s.confidence is not None]
    ece, bins = M.calibration(
        [float(s.confidence or 0.0) for s in with_conf],
        [s.answerable and s.candidate_f1 >= M.CORRECT_F1 for s in with_conf],
    )
    summary["ece"] = ece
    summary["latency_ms"], summary["latency_ms_by_stage"] = _latency(predictions)
    summary["counts"] = {
        "questions": len(predictions),
        "answerable": sum(1 for s in scored if s.answerable),
        "unanswerable": sum(1 for s in scored if not s.answerable),
        "ranked": len(ranked) if mode == "open-domain" else 0,
        "documents": len(data.documents) if data.kind == "squad" else None,
    }
    by_type: dict[str, list[float]] = defaultdict(list)
    for p in predictions:
        by_type[p.qtype].append(p.f1)
    summary["f1_by_question_type"] = {
        t: {"count": len(by_type[t]), "f1": round(100 * sum(by_type[t]) / len(by_type[t]), 2)}
        for t in M.QUESTION_TYPES
        if by_type[t]
    }
    if data.kind == "jsonl":
        with_gold = [p for p in predictions if p.gold_docs]
        summary["gold_doc_first"] = sum(1 for p in with_gold if _gold_first(p))
        summary["gold_doc_first_of"] = len(with_gold)
    summary.update(
        mode=mode,
        data=str(data.path),
        format=f"squad {data.version}".strip() if data.kind == "squad" else data.kind,
        limit=limit,
        seed=seed if limit is not None else None,
        threshold_search="full" if target.sees_below_threshold else "at or above the service's",
    )
    return Evaluation(summary, predictions, bins, curve, scored)


def _gold_first(p: Prediction) -> bool:
    """The answer's first citation, or with no answer the top passage, is a gold document."""
    doc = p.answer_doc if p.answered else (p.passages[0]["doc_id"] if p.passages else None)
    return doc in p.gold_docs


def _first_hit_qrels(
    preds: list[Prediction],
) -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
    """ranx input from the rank of each question's first relevant passage: what hit rate and MRR
    depend on, without guessing every passage in the collection that holds the answer."""
    qrels, run = {}, {}
    for p in preds:
        run[p.id] = [f"r{i}" for i in range(1, RANK_DEPTH + 1)]
        qrels[p.id] = {f"r{p.first_relevant}" if p.first_relevant else "none": 1}
    return qrels, run


def _latency(
    predictions: Sequence[Prediction],
) -> tuple[dict[str, float | None], dict[str, dict[str, float | None]]]:
    stages: dict[str, list[float]] = defaultdict(list)
    for p in predictions:
        for k, v in p.timings_ms.items():
            stages[k].append(v)
    # what a user waits for: the HTTP round trip when there is one, else the library's total
    main = stages.get("http") or stages.get("total") or []
    by_stage = {k: M.percentiles(stages[k]) for k in STAGES if stages.get(k)}
    return M.percentiles(main), by_stage


# -- BEIR ------------------------------------------------------------------------------------------


def _run_beir(
    data: BeirData,
    target: Target,
    limit: int | None,
    seed: int,
    batch_size: int,
    progress: bool,
) -> Evaluation:
    qids = sample(sorted(data.queries, key=_natural), limit, seed)
    indexing = time.perf_counter()
    target.ensure_documents(data.documents)
    index_seconds = round(time.perf_counter() - indexing, 1)
    target.search([data.queries[qids[0]]], 1)  # untimed: loads the model, builds BM25
    rankings: list[list[dict[str, Any]]] = []
    timings: list[float] = []
    with tqdm(
        total=len(qids),
        desc="qa eval (retrieval)",
        unit="q",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        for batch in _batches(qids, max(batch_size, 64)):
            started = time.perf_counter()
            rankings += target.search([data.queries[q] for q in batch], BEIR_DEPTH)
            timings += [(time.perf_counter() - started) * 1000 / len(batch)] * len(batch)
            bar.update(len(batch))
    run: dict[str, list[str]] = {}
    predictions = []
    for qid, passages, ms in zip(qids, rankings, timings, strict=True):
        docs = list(dict.fromkeys(p["doc_id"] for p in passages))  # a document ranks by its best
        run[qid] = docs
        rel = data.qrels[qid]
        first = next((i for i, d in enumerate(docs, 1) if rel.get(d, 0) > 0), None)
        predictions.append(
            Prediction(  # retrieval only: nothing answered, nothing scored
                id=qid,
                question=data.queries[qid],
                qtype=M.question_type(data.queries[qid]),
                gold_docs=sorted(rel),
                first_relevant=first,
                passages=[{"doc_id": d, "rank": i} for i, d in enumerate(docs[:10], 1)],
                timings_ms={"search": round(ms, 2)},
            )
        )
    summary = _empty_summary()
    summary.update(target.describe())
    summary.update(M.ranking_metrics({q: data.qrels[q] for q in qids}, run, M.BEIR_RANKING))
    summary["latency_ms"] = M.percentiles(timings)
    summary["latency_ms_by_stage"] = {"search": M.percentiles(timings)}
    summary["counts"] = {
        "questions": len(qids),
        "answerable": None,
        "unanswerable": None,
        "ranked": len(qids),
        "documents": len(data.documents),
    }
    summary.update(
        mode="retrieval",
        data=str(data.path),
        format=f"beir ({data.split} qrels)",
        limit=limit,
        seed=seed if limit is not None else None,
        index_seconds=index_seconds,
    )
    curve = M.hit_curve([p.first_relevant for p in predictions], BEIR_DEPTH)
    return Evaluation(summary, predictions, [], curve, [])


# -- helpers ---------------------------------------------------------------------------------------


def _empty_summary() -> dict[str, Any]:
    """Every key, so a consumer of ``--json-only`` never has to guess whether one exists; keys a
    mode does not measure stay null."""
    keys = (
        "exact_match",
        "f1",
        "has_answer_exact",
        "has_answer_f1",
        "no_answer_accuracy",
        "answered_rate",
        "best_threshold",
        "best_threshold_f1",
        "best_threshold_exact",
        "recall@1",
        "recall@5",
        "recall@20",
        "mrr@10",
        "ndcg@10",
        "recall@100",
        "ece",
        "gold_doc_first",
        "gold_doc_first_of",
    )
    return dict.fromkeys(keys)


def _batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _natural(key: str) -> tuple[int, Any]:
    return (0, int(key)) if key.isdigit() else (1, key)
