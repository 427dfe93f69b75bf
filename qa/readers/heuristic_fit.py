"""Fit the packaged-parts reader's weights on SQuAD: ``python -m qa.readers.heuristic_fit``.

Data (../shared/data, never copied into the package):

* held out: the 8 SQuAD 2.0 articles the trained reader holds out (``held_out`` in
  qa/models/reader/split.json), so that both readers, and the ensemble that combines them, are
  measured on articles neither was fitted on. Nothing is fitted on them; the abstention threshold
  is chosen on the split's ``calibration`` half, where held-out figures are also reported, and the
  ``test`` half is left alone for ``qa eval``.
* span model: SQuAD 1.1 questions from other articles of squad1-dev-public.json (a seeded sample
  of 24 articles, 12 paragraphs each, 3 questions per paragraph). Each question gets the passages
  a retriever would hand the reader: its own paragraph plus the article's paragraphs ranked
  highest by MiniLM and BM25 (fused by RRF, as the product does), so passage rank and distractor
  sentences look as they will in use. A conditional logit (softmax over all candidates of a
  question) is fitted with each candidate's target weight = (token F1 with the gold answers)^3.
* no-answer and score models: SQuAD 2.0 questions of the same training articles, answerable and
  unanswerable, plus two kinds of "the documents do not say": near-miss (the question over its
  own article with every paragraph holding an answer removed) and out-of-corpus (passages from
  the other training articles). The no-answer model (target: no passage answers) is fitted on
  one half of these cases, the score model (target: the span's F1, 0 when nothing answers) on
  the other half, using the no-answer model's output as an input.
* threshold: on the held-out articles, built the same way (answerable, unanswerable, near-miss and
  out-of-corpus cases), the largest score threshold that keeps 95% of the answer F1 the reader
  reaches when it never abstains; the abstention rates it gives are recorded.

All three are L2-regularized logistic models fitted by Newton's method (a few lines of numpy).
The result goes to heuristic_weights.json with the data description and the held-out figures.
``--evaluate`` fits nothing: it measures the shipped weights on the seeds development
questions (../shared/data/seeds_dev.jsonl), which play no part in fitting.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.answers import normalize_answer, token_f1
from qa.readers.heuristic import WEIGHTS, HeuristicReader
from qa.readers.heuristic_features import (
    NO_ANSWER_FEATURES,
    SCORE_FEATURES,
    SPAN_FEATURES,
    Analysis,
    Scored,
    question_row,
    score_row,
)
from qa.types import Passage

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SPLIT = Path(__file__).resolve().parents[1] / "models" / "reader" / "split.json"
TOP_K = 5
RRF_K = 60
KEEP_F1 = 0.95  # share of the never-abstaining answer F1 the threshold must keep


# -- SQuAD scoring -------------------------------------------------------------------------


def f1_score(prediction: str, gold: str) -> float:
    """SQuAD token F1 (its normalization: case, punctuation, articles, spaces)."""
    return token_f1(normalize_answer(prediction).split(), normalize_answer(gold).split())


def best_f1(prediction: str, golds: list[str]) -> float:
    return max((f1_score(prediction, g) for g in golds), default=0.0)


# -- data ----------------------------------------------------------------------------------


@dataclass
class Item:
    question: str
    answers: list[str]
    article: str
    paragraph: int  # index into Pool.texts of the paragraph it was asked about
    impossible: bool = False


@dataclass
class Pool:
    """Paragraphs the simulated retriever searches, with MiniLM vectors and a BM25 index."""

    texts: list[str] = field(default_factory=list)
    articles: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    vectors: np.ndarray | None = None
    bm25: Any = None

    def add(self, article: str, text: str) -> int:
        if text not in self.index:
            self.index[text] = len(self.texts)
            self.texts.append(text)
            self.articles.append(article)
        return self.index[text]

    def build(self, reader: HeuristicReader) -> None:
        import bm25s

        self.vectors = reader.embedder.embed(self.texts, progress=True)
        self.bm25 = bm25s.BM25()
        self.bm25.index(self._tokenize(self.texts), show_progress=False)

    @staticmethod
    def _tokenize(texts: list[str]) -> list[list[str]]:
        import bm25s
        import Stemmer

        tokens = bm25s.tokenize(
            texts,
            stopwords="en",
            stemmer=Stemmer.Stemmer("english"),
            return_ids=False,
            show_progress=False,
        )
        assert isinstance(tokens, list)
        return tokens

    def retrieve(
        self,
        question: str,
        qvec: np.ndarray,
        articles: set[str],
        ensure: int | None = None,
        exclude: set[int] | None = None,
    ) -> list[Passage]:
        """Top passages by RRF of dense and BM25 ranks among the paragraphs of ``articles``
        (less ``exclude``), with paragraph ``ensure`` swapped in last when it missed the cut."""
        assert self.vectors is not None
        mask = np.isin(np.array(self.articles), sorted(articles))
        if exclude:
            mask[sorted(exclude)] = False
        dense = self.vectors @ qvec
        qtok = self._tokenize([question])[0]
        bm = self.bm25.get_scores(qtok) if qtok else np.zeros(len(self.texts))
        candidates = np.flatnonzero(mask)
        d_order = candidates[np.argsort(-dense[candidates], kind="stable")]
        b_order = candidates[np.argsort(-bm[candidates], kind="stable")]
        rrf: dict[int, float] = collections.defaultdict(float)
        for order in (d_order, b_order):
            for r, i in enumerate(order, 1):
                rrf[int(i)] += 1 / (RRF_K + r)
        top = sorted(rrf, key=lambda i: -rrf[i])[:TOP_K]
        if ensure is not None and ensure not in top:
            top[-1] = ensure
            top.sort(key=lambda i: -rrf[i])
        return [
            Passage(
                doc_id=self.articles[i],
                chunk_index=i,
                start=0,
                end=len(self.texts[i]),
                text=self.texts[i],
                rank=r,
                score=rrf[i],
                scores={"dense": float(dense[i]), "bm25": float(bm[i]), "rrf": rrf[i]},
            )
            for r, i in enumerate(top, 1)
        ]


def load_squad(path: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["data"]
    return data


def held_out_titles(split: Path = SPLIT, key: str = "held_out") -> list[str]:
    """Articles of the shipped reader's split: ``held_out`` (never fitted on) or ``calibration``
    (where the threshold is chosen)."""
    titles: list[str] = json.loads(split.read_text(encoding="utf-8"))[key]
    return titles


def _items(
    articles: list[dict[str, Any]],
    pool: Pool,
    rng: random.Random,
    paragraphs: int,
    per_paragraph: int,
) -> list[Item]:
    items = []
    for art in articles:
        paras = list(art["paragraphs"])
        rng.shuffle(paras)
        for para in paras[:paragraphs]:
            pi = pool.add(art["title"], para["context"])
            qas = list(para["qas"])
            rng.shuffle(qas)
            for qa in qas[:per_paragraph]:
                golds = list(dict.fromkeys(a["text"] for a in qa["answers"]))
                items.append(
                    Item(
                        qa["question"],
                        golds,
                        art["title"],
                        pi,
                        bool(qa.get("is_impossible", False)),
                    )
                )
    return items


@dataclass
class Case:
    """One question with the passages the reader sees, featurized once."""

    item: Item
    passages: list[Passage]
    answerable: bool
    kind: str  # answerable | unanswerable | out_of_corpus | gold_passage
    analyses: list[Analysis] = field(default_factory=list)
    scored: Scored | None = None

    def candidate_texts(self) -> list[str]:
        assert self.scored is not None
        out = []
        for pi, cand in self.scored.refs:
            s, e = self.analyses[pi].char_range(cand)
            out.append(self.passages[pi].text[s:e])
        return out


def _cases(
    pool: Pool,
    items: list[Item],
    qvecs: dict[str, np.ndarray],
    rng: random.Random,
    near_miss: int,
    out_of_corpus: int,
) -> list[Case]:
    """Answerable and unanswerable SQuAD 2.0 questions over their article's top passages, plus
    two kinds of "the documents do not say": ``near_miss``, the same article without every
    paragraph that contains an answer (a corpus on the topic that lacks the fact), and
    ``out_of_corpus``, passages from the other articles."""
    cases = []
    for it in items:
        passages = pool.retrieve(it.question, qvecs[it.question], {it.article}, it.paragraph)
        kind = "unanswerable" if it.impossible else "answerable"
        cases.append(Case(it, passages, not it.impossible, kind))
    answerable = [it for it in items if not it.impossible]
    articles = {it.article for it in items}
    for it in rng.sample(answerable, min(near_miss, len(answerable))):
        golds = [normalize_answer(a) for a in it.answers]
        holding = {
            i
            for i, (art, text) in enumerate(zip(pool.articles, pool.texts, strict=True))
            if art == it.article and any(g and g in normalize_answer(text) for g in golds)
        }
        passages = pool.retrieve(
            it.question, qvecs[it.question], {it.article}, exclude=holding | {it.paragraph}
        )
        if passages:
            cases.append(Case(it, passages, False, "near_miss"))
    for it in rng.sample(answerable, min(out_of_corpus, len(answerable))):
        passages = pool.retrieve(it.question, qvecs[it.question], articles - {it.article})
        cases.append(Case(it, passages, False, "out_of_corpus"))
    return cases


def _gold_cases(pool: Pool, items: list[Item]) -> list[Case]:
    cases = []
    for it in items:
        text = pool.texts[it.paragraph]
        p = Passage(
            doc_id=it.article, chunk_index=it.paragraph, start=0, end=len(text), text=text, rank=1
        )
        cases.append(Case(it, [p], True, "gold_passage"))
    return cases


@dataclass
class Prepared:
    """Everything fitting needs, parsed, embedded and featurized once."""

    span_cases: list[Case]
    no_answer_cases: list[Case]
    held_cases: list[Case]
    gold_cases: list[Case]
    description: dict[str, Any]
    question_vectors: dict[str, np.ndarray]

    def featurize(self, reader: HeuristicReader) -> None:
        for case in self.span_cases + self.no_answer_cases + self.held_cases + self.gold_cases:
            case.analyses, case.scored = reader.featurize(
                case.item.question, case.passages, self.question_vectors[case.item.question]
            )


def prepare(
    reader: HeuristicReader,
    data_dir: Path = DATA,
    seed: int = 0,
    articles: int = 24,
    paragraphs: int = 12,
    per_paragraph: int = 3,
) -> Prepared:
    started = time.time()
    rng = random.Random(seed)
    squad1 = load_squad(data_dir / "squad1-dev-public.json")
    squad2 = load_squad(data_dir / "squad2-dev-public.json")
    held = set(held_out_titles())
    calibration = set(held_out_titles(key="calibration"))
    train1 = [a for a in squad1 if a["title"] not in held]
    rng.shuffle(train1)
    train1 = train1[:articles]
    train_titles = {a["title"] for a in train1}
    train2 = [a for a in squad2 if a["title"] in train_titles]

    pool = Pool()
    span_items = _items(train1, pool, rng, paragraphs, per_paragraph)
    na_items = _items(train2, pool, rng, paragraphs, per_paragraph)
    held_span = _items(
        [a for a in squad1 if a["title"] in calibration], pool, rng, paragraphs, per_paragraph
    )
    held_na = _items(
        [a for a in squad2 if a["title"] in calibration], pool, rng, paragraphs, per_paragraph
    )
    log.info(
        "pool: %d paragraphs; span %d, no-answer %d, held-out %d + %d questions",
        len(pool.texts),
        len(span_items),
        len(na_items),
        len(held_span),
        len(held_na),
    )
    reader.analyse_texts(pool.texts)
    pool.build(reader)
    questions = list(dict.fromkeys(i.question for i in span_items + na_items + held_span + held_na))
    qvecs = dict(zip(questions, reader.embedder.embed(questions, progress=True), strict=True))
    log.info("parsed and embedded in %.0fs", time.time() - started)

    span_cases = _cases(pool, span_items, qvecs, rng, 0, 0)
    na_cases = _cases(pool, na_items, qvecs, rng, len(na_items) // 3, len(na_items) // 6)
    held_cases = _cases(pool, held_na, qvecs, rng, len(held_na) // 3, len(held_na) // 6)
    gold_cases = _gold_cases(pool, [i for i in held_span if not i.impossible])
    prep = Prepared(span_cases, na_cases, held_cases, gold_cases, {}, qvecs)
    prep.featurize(reader)
    log.info("featurized in %.0fs", time.time() - started)
    description = {
        "seed": seed,
        "held_out_articles": sorted(held),
        "threshold_articles": sorted(calibration),
        "span_training": {
            "source": "squad1-dev-public.json",
            "articles": sorted(train_titles),
            "paragraphs_per_article": paragraphs,
            "questions": len(span_items),
        },
        "no_answer_training": {
            "source": "squad2-dev-public.json (same articles) + near-miss + out-of-corpus",
            "cases": dict(collections.Counter(c.kind for c in na_cases)),
        },
    }
    prep.description = description
    return prep


# -- fitting -------------------------------------------------------------------------------


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50
) -> tuple[np.ndarray, float]:
    """Weights and bias minimizing cross-entropy (soft targets allowed) + l2/2 |w|^2, by
    Newton's method; the bias is not penalized."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + reg * w
        hessian = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hessian, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-7:
            break
    return w[:-1], float(w[-1])


def fit_conditional_logit(
    x: np.ndarray, target: np.ndarray, group: np.ndarray, l2: float = 1.0, iterations: int = 50
) -> np.ndarray:
    """Weights of a softmax over each group's rows (the candidates of one question) that
    maximize the expected log-probability of ``target`` (per-group weights, normalized here),
    minus l2/2 |w|^2; Newton's method with backtracking."""
    d = x.shape[1]
    groups = int(group.max()) + 1
    q = target / np.bincount(group, target, groups)[group]

    def evaluate(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        zmax = np.full(groups, -np.inf)
        np.maximum.at(zmax, group, z)
        e = np.exp(z - zmax[group])
        s = np.bincount(group, e, groups)
        loss = -(q * (z - zmax[group] - np.log(s[group]))).sum() + l2 / 2 * w @ w
        return float(loss), e / s[group]

    w = np.zeros(d)
    loss, p = evaluate(w)
    for _ in range(iterations):
        grad = x.T @ (p - q) + l2 * w
        xp = np.zeros((groups, d))
        np.add.at(xp, group, x * p[:, None])
        hessian = (x * p[:, None]).T @ x - xp.T @ xp + l2 * np.eye(d)
        step = np.linalg.solve(hessian, grad)
        t = 1.0
        while True:
            new_loss, new_p = evaluate(w - t * step)
            if new_loss <= loss - 1e-4 * t * (grad @ step) or t < 1e-4:
                break
            t /= 2
        w = w - t * step
        converged = loss - new_loss < 1e-8 * abs(loss)
        loss, p = new_loss, new_p
        if converged:
            break
    return w


def _no_answer_rows(reader: HeuristicReader, cases: list[Case]) -> tuple[np.ndarray, np.ndarray]:
    rows, ys = [], []
    for case in cases:
        assert case.scored is not None
        logits = reader.span_logits(case.scored.x)
        pooled = reader.pooled(case.passages, case.analyses, case.scored, logits)
        best_p, best = pooled[0] if pooled else (0.0, None)
        rows.append(
            question_row(
                case.scored.question_features, best_p, None if best is None else case.scored.x[best]
            )
        )
        ys.append(0.0 if case.answerable else 1.0)
    return np.array(rows), np.array(ys)


def _score_rows(
    reader: HeuristicReader, cases: list[Case], top: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Score-model inputs for each case's best few candidates; target: their F1 (0 when the
    passages do not answer)."""
    rows, ys = [], []
    for case in cases:
        assert case.scored is not None
        logits = reader.span_logits(case.scored.x)
        pooled = reader.pooled(case.passages, case.analyses, case.scored, logits)
        if not pooled:
            continue
        best_p, best = pooled[0]
        na = reader.no_answer_probability(case.scored, best_p, best)
        texts = case.candidate_texts()
        for rank, (p, k) in enumerate(pooled[:top]):
            rows.append(score_row(p, na, rank == 0, case.scored.x[k], case.scored.explain[k]))
            ys.append(best_f1(texts[k], case.item.answers) if case.answerable else 0.0)
    return np.array(rows), np.array(ys)


def predict(reader: HeuristicReader, cases: list[Case]) -> list[tuple[str, float]]:
    """Each case's best span and its final score (0 when there is none)."""
    out = []
    for case in cases:
        assert case.scored is not None
        r = reader.output(case.passages, case.analyses, case.scored, top_n=1)
        out.append((r.spans[0].text, r.spans[0].score) if r.spans else ("", 0.0))
    return out


def choose_threshold(
    cases: list[Case], predictions: list[tuple[str, float]], keep: float = KEEP_F1
) -> tuple[float, dict[str, float]]:
    """The largest threshold that keeps ``keep`` of the answer F1 the reader reaches when it never
    abstains. This reader's best span is wrong more often than right, so a criterion that gives
    abstaining full credit (SQuAD 2.0's F1) would have it abstain on most questions; the product
    would rather answer, and abstain where the evidence for any answer is weak."""
    answerable = [
        (best_f1(t, c.item.answers), s)
        for c, (t, s) in zip(cases, predictions, strict=True)
        if c.answerable
    ]
    full = sum(f for f, _ in answerable)
    best = 0.0
    for t in sorted({round(s, 4) for _, s in answerable}):
        if sum(f for f, s in answerable if s >= t) >= keep * full:
            best = t
    return best, {"keep_f1": keep}


def report(
    cases: list[Case], predictions: list[tuple[str, float]], threshold: float
) -> dict[str, float]:
    by_kind: dict[str, list[float]] = collections.defaultdict(list)
    for c, (t, s) in zip(cases, predictions, strict=True):
        if c.answerable:
            f = best_f1(t, c.item.answers)
            by_kind["f1_top1"].append(f)
            by_kind["em_top1"].append(float(f == 1.0))
            by_kind["f1_with_abstention"].append(f if s >= threshold else 0.0)
            by_kind["answered"].append(float(s >= threshold))
        else:
            by_kind[f"{c.kind}_abstained"].append(float(s < threshold))
    out = {k: round(float(np.mean(v)), 4) for k, v in by_kind.items()}
    out.update({f"n_{k}": n for k, n in collections.Counter(c.kind for c in cases).items()})
    return out


def fit_models(
    reader: HeuristicReader, prep: Prepared, l2: float = 1.0, power: float = 3.0
) -> dict[str, Any]:
    """Fit the span model, then the no-answer model on its outputs, then the threshold; the
    reader is left holding the fitted weights."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    gs: list[np.ndarray] = []
    for case in prep.span_cases:
        assert case.scored is not None
        f1 = np.array([best_f1(t, case.item.answers) for t in case.candidate_texts()])
        if len(f1) and f1.max() > 0:  # no candidate overlaps the answer: nothing to learn
            xs.append(case.scored.x)
            ys.append(f1**power)
            gs.append(np.full(len(f1), len(gs)))
    x_all, y_all = np.vstack(xs), np.concatenate(ys)
    span_w = fit_conditional_logit(x_all, y_all, np.concatenate(gs), l2=l2)
    reader._span_w = span_w

    # no-answer model on one half of the cases, final score model on the other, so that the
    # score model sees no-answer estimates as they will be on new questions
    half_a = prep.no_answer_cases[0::2]
    half_b = prep.no_answer_cases[1::2]
    xn, yn = _no_answer_rows(reader, half_a)
    na_w, na_b = fit_logistic(xn, yn, l2=1.0)
    reader._na_w, reader._na_b = na_w, na_b
    xs_, ys_ = _score_rows(reader, half_b)
    score_w, score_b = fit_logistic(xs_, ys_, l2=1.0)
    reader._score_w, reader._score_b = score_w, score_b

    held_predictions = predict(reader, prep.held_cases)
    threshold, criterion = choose_threshold(prep.held_cases, held_predictions)
    reader.default_threshold = threshold
    gold = report(prep.gold_cases, predict(reader, prep.gold_cases), threshold)
    return {
        "version": 1,
        "span": {
            "model": "conditional logit (softmax over all candidates of a question)",
            "features": list(SPAN_FEATURES),
            "weights": _r(span_w),
            "target": f"token F1 with the gold answers, raised to the power {power}",
        },
        "no_answer": {
            "model": "logistic regression, target: no passage answers",
            "features": list(NO_ANSWER_FEATURES),
            "weights": _r(na_w),
            "bias": round(na_b, 6),
        },
        "score": {
            "model": "logistic regression, target: token F1 of the span (0 when the "
            "passages do not answer)",
            "features": list(SCORE_FEATURES),
            "weights": _r(score_w),
            "bias": round(score_b, 6),
        },
        "threshold": round(threshold, 4),
        "fit": {
            "command": "python -m qa.readers.heuristic_fit",
            **prep.description,
            "span_rows": len(y_all),
            "span_questions": len(xs),
            "l2": l2,
            "threshold_selection": {
                "criterion": "largest threshold keeping keep_f1 of the answer F1 on answerable "
                "held-out SQuAD 2.0 questions (top-5 retrieved passages); abstention rates on "
                "the unanswerable kinds are reported under held_out",
                **criterion,
            },
            "held_out": {
                "squad1_gold_passage": gold,
                "squad2_top5_passages": report(prep.held_cases, held_predictions, threshold),
            },
        },
    }


def _r(w: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in w]


def blank_weights() -> Path:
    """A zero-weight file to construct a reader before anything is fitted (features need no
    weights)."""
    blank = Path(tempfile.mkdtemp(prefix="heuristic-fit-")) / "blank.json"
    zero = {
        "span": (SPAN_FEATURES, ""),
        "no_answer": (NO_ANSWER_FEATURES, ""),
        "score": (SCORE_FEATURES, ""),
    }
    blank.write_text(
        json.dumps(
            {
                **{
                    k: {"features": list(names), "weights": [0.0] * len(names), "bias": 0.0}
                    for k, (names, _) in zero.items()
                },
                "threshold": 0.0,
            }
        ),
        encoding="utf-8",
    )
    return blank


def fit(
    data_dir: Path = DATA,
    out: Path = WEIGHTS,
    seed: int = 0,
    articles: int = 24,
    paragraphs: int = 12,
) -> dict[str, Any]:
    """Prepare the data, fit, write ``out``; return what was written."""
    started = time.time()
    reader = HeuristicReader(cache_size=10**6, weights=blank_weights())
    prep = prepare(reader, data_dir, seed, articles, paragraphs)
    result = fit_models(reader, prep)
    result["fit"]["seconds"] = round(time.time() - started, 1)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


# -- development check on the seeds --------------------------------------------------------


def evaluate_seeds(reader: HeuristicReader, seeds: Path, questions: Path) -> dict[str, Any]:
    """The development questions over the seeds, through chunking, a dense+BM25 retriever over
    the chunks and the product's answer aggregation (the service's own path needs the loader).
    ``gold_doc``: passages retrieved from the gold document only; ``corpus``: from all five."""
    from qa.answers import aggregate
    from qa.chunk import chunk_document
    from qa.types import Document

    reader.warm_up()
    pool = Pool()
    chunks = {}
    for path in sorted(seeds.glob("*.txt")):
        doc = Document(id=path.stem, text=path.read_text(encoding="utf-8"))
        for c in chunk_document(doc, reader.embedder.count_tokens):
            chunks[pool.add(doc.id, c.text)] = c
    pool.build(reader)
    all_docs = set(pool.articles)
    rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line]
    per_question = []
    for row in rows:
        qvec = reader.embedder.embed([row["question"]])[0]
        entry: dict[str, Any] = {"id": row["id"]}
        settings = [("corpus", all_docs)] + (
            [("gold_doc", set(row["docs"]))] if row["docs"] else []
        )
        for name, articles in settings:
            passages = pool.retrieve(row["question"], qvec, articles)
            for p in passages:  # document offsets, as the store would give them
                c = chunks[p.chunk_index]
                p.chunk_index, p.start, p.end = c.index, c.start, c.end
            out = reader.read(row["question"], passages, top_n=20)
            answers = aggregate(out, passages, reader.default_threshold)
            top = out.spans[0] if out.spans else None
            entry[name] = {
                "answer": answers[0].text if answers else None,
                "doc": answers[0].doc_id if answers else None,
                "score": round(top.score, 4) if top else 0.0,
                "best_span": top.text if top else None,
                "no_answer": round(out.no_answer, 4),
                "f1": best_f1(answers[0].text, row["answers"])
                if answers and row["answers"]
                else 0.0,
                "f1_best_span": best_f1(top.text, row["answers"])
                if top and row["answers"]
                else 0.0,
            }
        per_question.append(entry)
    answerable = [e for e, r in zip(per_question, rows, strict=True) if r["answers"]]
    unanswerable = [e for e, r in zip(per_question, rows, strict=True) if not r["answers"]]
    gold = {r["id"]: r["docs"] for r in rows}

    def mean(key: str, field: str) -> float:
        return round(float(np.mean([e[key][field] for e in answerable])), 4)

    return {
        "gold_doc_f1": mean("gold_doc", "f1"),
        "gold_doc_f1_best_span": mean("gold_doc", "f1_best_span"),
        "corpus_f1": mean("corpus", "f1"),
        "corpus_f1_best_span": mean("corpus", "f1_best_span"),
        "corpus_gold_doc_first": sum(1 for e in answerable if e["corpus"]["doc"] in gold[e["id"]]),
        "answerable": len(answerable),
        "abstained": sum(1 for e in unanswerable if e["corpus"]["answer"] is None),
        "unanswerable": len(unanswerable),
        "threshold": reader.default_threshold,
        "questions": per_question,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qa.readers.heuristic_fit",
        description="Fit the heuristic reader's weights on SQuAD.",
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--articles", type=int, default=24, help="training articles sampled")
    parser.add_argument("--paragraphs", type=int, default=12, help="paragraphs per article")
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="fit nothing: measure --weights on the seeds development questions",
    )
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="with --evaluate")
    parser.add_argument("--seeds", type=Path, default=Path("seeds"), help="with --evaluate")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(
            f"--data {args.data}: no such folder; fitting reads the shared data set "
            "(../shared/data beside the repository), which a clone does not include"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.evaluate:
        result = evaluate_seeds(
            HeuristicReader(weights=args.weights), args.seeds, args.data / "seeds_dev.jsonl"
        )
        for q in result.pop("questions"):
            print(json.dumps(q, ensure_ascii=False))
        print(json.dumps(result, indent=2))
        return 0
    written = fit(args.data, args.out, args.seed, args.articles, args.paragraphs)
    print(json.dumps(written["fit"]["held_out"], indent=2))
    print(f"threshold {written['threshold']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
