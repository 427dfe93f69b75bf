"""Fit the reader's confidence model and abstention threshold: ``qa calibrate-reader``.

Data: the ``calibration`` half of the reader's held-out articles (SQuAD 2.0 dev), never trained
on; the ``test`` half is never touched (``qa eval --articles SPLIT:test`` measures it). Every
question is read the ways the service meets questions, each a population of its own:

* ``open_domain``: the top passages retrieved (MiniLM + BM25) from the calibration articles;
* ``out_of_corpus``: an answerable question asked of an index that lacks its article (the other
  training articles), so nothing retrieved answers it: the right output is no answer;
* ``gold_passage``: its own paragraph alone, where SQuAD 2.0's adversarial unanswerable questions
  (a near-paraphrase of an answerable one, over the very paragraph) live;
* ``near_miss``: an answerable question perturbed until its paragraph no longer answers it
  (``qa.train.nearmiss``: another name, number, date or ordinal, a negation, an antonym, the fact
  cut out), read over that paragraph: the question the documents only come close to answering.

Each meaning the reader proposes for a case is a row of ``qa.read.confidence.FEATURES``,
labelled right when its token F1 with a gold answer is >= 0.5 (never, when the documents do not
answer). A logistic regression over all rows both ranks the meanings of a question and gives the
probability of the first; its L2 strength is the one with the lowest out-of-fold Brier score of
first choices (two folds by article).

The threshold is the one that maximises F1 over the answerable questions (open-domain and with
their paragraph) and the near-miss ones (SQuAD 2.0's overall F1: an answerable case scores its
answer's token F1 when answered, an unanswerable one 1 when refused), out of fold; but never
lower than the lowest at which the reader still refuses ``OUT_OF_CORPUS_TARGET`` of the
out-of-corpus questions in every calibration article on its own. A service that answers what
the documents only come close to saying is wrong as surely as one that refuses what they state,
and F1 counts both; questions about what the archive does not hold at all are a floor, not a
trade. SQuAD 2.0's adversarial questions are near misses too, but written to fool a reader one
by one; they are read and reported (``out_of_fold``, ``trade_off``) and can set a floor of their
own (``adversarial``), but the threshold is not traded for them: where a reader tells them apart
poorly, serving them refuses many of the questions the documents do answer.
"""

from __future__ import annotations

import logging
import pickle
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.eval.metrics import CORRECT_F1, best_f1, calibration
from qa.eval.squad import Example, read_squad
from qa.read.confidence import FEATURE_VERSION, FEATURES, ConfidenceModel, model_fingerprint
from qa.read.meanings import group_by_meaning
from qa.read.transformer import CALIBRATION_NAME, TransformerReader
from qa.retrieve import with_dense_scores
from qa.settings import SHIPPED_READER
from qa.train.data import Split
from qa.types import Passage

log = logging.getLogger(__name__)

KINDS = ("open_domain", "out_of_corpus", "gold_passage", "near_miss")
TOP_K = 5
MAX_MEANINGS = 10  # rows per case: the first few carry all the ranking signal
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
#: refuse at least this share of the questions of every calibration article whose answer the
#: index does not hold: 95 %, with a margin for the spread of an article's hundred-odd questions ...
OUT_OF_CORPUS_TARGET = 0.97
#: ... and of SQuAD 2.0's adversarial unanswerable questions over their own paragraph
ADVERSARIAL_TARGET = 0.0


@dataclass
class Case:
    """One question read one way: its meanings' texts and feature rows, best guess first."""

    example: Example
    kind: str
    texts: list[str]
    x: np.ndarray  # (meanings, len(FEATURES))

    @property
    def answerable(self) -> bool:
        return self.kind not in ("out_of_corpus", "near_miss") and self.example.answerable

    def labels(self) -> np.ndarray:
        return (self.f1s() >= CORRECT_F1).astype(np.float64)

    def f1s(self) -> np.ndarray:
        if not self.answerable:
            return np.zeros(len(self.texts))
        return np.array([best_f1(t, self.example.answers) for t in self.texts])


def _case(reader: TransformerReader, ex: Example, kind: str, passages: list[Passage]) -> Case:
    out = reader.read(ex.question, passages, top_n=200)
    groups = group_by_meaning(out.spans)[:MAX_MEANINGS]
    texts = [g[0].text for g in groups]
    x = np.array([[g[0].features[f] for f in FEATURES] for g in groups]).reshape(-1, len(FEATURES))
    return Case(ex, kind, texts, x)


def collect(model: str | Path, squad2: str | Path, split: Split) -> list[Case]:
    """Read every calibration case once with the uncalibrated reader, as the service reads:
    the first ``Settings.reader_passages`` of the passages retrieved."""
    from qa.service import QAService
    from qa.settings import Settings

    depth = _depth()
    reader = TransformerReader(model).uncalibrated()
    held = set(split.calibration)
    cal = read_squad(squad2, held)
    others = read_squad(squad2, set(split.train))  # the out-of-corpus index
    # every answerable question a second time, out of corpus: a threshold set by how often a
    # few articles' questions are refused needs every one of them to be steady
    ooc = [ex for ex in cal.examples if ex.answerable]
    cases: list[Case] = []
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for docs, name in ((cal.documents, "cal"), (others.documents, "ooc")):
            service = QAService(Settings(index_dir=Path(tmp) / name), reader=reader)
            service.add_documents(docs)
            if name == "cal":
                by_id = {d.id: d for d in docs}
                questions = [ex.question for ex in cal.examples]
                for ex, passages in zip(
                    cal.examples, service.batch_search(questions, TOP_K), strict=True
                ):
                    passages = with_dense_scores(service.embedder, ex.question, passages[:depth])
                    cases.append(_case(reader, ex, "open_domain", passages))
                    d = by_id[ex.gold_docs[0]]
                    gold = Passage(d.id, 0, 0, len(d.text), d.text, d.meta, rank=1)
                    gold = with_dense_scores(service.embedder, ex.question, [gold])[0]
                    cases.append(_case(reader, ex, "gold_passage", [gold]))
            else:
                for ex, passages in zip(
                    ooc, service.batch_search([ex.question for ex in ooc], TOP_K), strict=True
                ):
                    passages = with_dense_scores(service.embedder, ex.question, passages[:depth])
                    cases.append(_case(reader, ex, "out_of_corpus", passages))
            service.close()
            log.info("%d cases read (%.0f s)", len(cases), time.time() - started)
    cases.extend(near_miss_cases(reader, cal))
    log.info("%d cases read (%.0f s)", len(cases), time.time() - started)
    return cases


#: near-miss cases per kind: about one per answerable calibration question in all
NEAR_MISS_PER_KIND = 80


def near_miss_cases(reader: TransformerReader, cal: Any, *, originals: bool = False) -> list[Case]:
    """The articles' answerable questions, perturbed (``qa.train.nearmiss``) and read over the
    paragraph they no longer ask about; with ``originals``, each perturbed question's source
    too, read over its own paragraph (kind ``gold_passage``), to compare. The reader's dense
    features need the embedder's cosine with the question, as the service measures it."""
    import spacy

    from qa.index.embed import Embedder
    from qa.settings import ModelSettings
    from qa.text.sentences import MODEL
    from qa.train import nearmiss

    sources = {ex.id: ex for ex in cal.examples if ex.answerable and ex.spans and ex.gold_docs}
    perturber = nearmiss.Perturber(spacy.load(MODEL), seed=CALIBRATION_SEED)
    made = nearmiss.balance(
        perturber.generate(list(sources.values())),
        dict.fromkeys(nearmiss.KINDS, NEAR_MISS_PER_KIND),
        seed=CALIBRATION_SEED,
    )
    embedder = Embedder.from_settings(ModelSettings())
    by_id = {d.id: d for d in cal.documents}
    cases = []
    for nm in made:
        src = sources[nm.source_id]
        doc = by_id[src.gold_docs[0]]
        reads = [
            (
                replace(src, id=nm.id, question=nm.question, answers=[], starts=[]),
                nm.context,
                "near_miss",
            )
        ]
        if originals:
            reads.append((src, doc.text, "gold_passage"))
        for ex, text, kind in reads:
            passage = Passage(doc.id, 0, 0, len(text), text, doc.meta, rank=1)
            passage = with_dense_scores(embedder, ex.question, [passage])[0]
            cases.append(_case(reader, ex, kind, [passage]))
    return cases


CALIBRATION_SEED = 17


def _window() -> list[int]:
    """The reader's window, stride and spans kept per window: cases read with others have
    other features (a meaning's share of the candidates, for one)."""
    reader = TransformerReader(SHIPPED_READER)
    return [reader.max_length, reader.stride, reader.spans_per_window]


def _cases_made() -> list[Any]:
    """How the cases' features and near-miss questions were made: cases of other versions
    have other rows."""
    from qa.train.nearmiss import VERSION

    return [FEATURE_VERSION, VERSION, NEAR_MISS_PER_KIND, CALIBRATION_SEED]


def _depth() -> int:
    from qa.settings import ReadingSettings

    return ReadingSettings().reader_passages


def _retrieval() -> dict[str, Any]:
    """How the passages read were ranked: the rank and dense-score features depend on it."""
    from qa.settings import RetrievalSettings

    settings = RetrievalSettings()
    return {k: getattr(settings, k) for k in ("fusion", "dense_weight", "rrf_k", "candidates")}


def _fit_logistic(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, float, Any, Any]:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(C=c, max_iter=2000)
    lr.fit((x - mean) / scale, y)
    return lr.coef_[0], float(lr.intercept_[0]), mean, scale


def _model(x: np.ndarray, y: np.ndarray, c: float, threshold: float = 0.5) -> ConfidenceModel:
    w, b, mean, scale = _fit_logistic(x, y, c)
    return ConfidenceModel(
        tuple(map(float, w)), b, tuple(map(float, mean)), tuple(map(float, scale)), threshold
    )


def _stack(cases: list[Case]) -> tuple[np.ndarray, np.ndarray]:
    rows = [c for c in cases if len(c.texts)]
    return np.vstack([c.x for c in rows]), np.concatenate([c.labels() for c in rows])


@dataclass
class Choice:
    """A case's first choice under a model: its text (None: nothing proposed), probability and
    token F1 with the gold answers."""

    text: str | None
    p: float
    f1: float


def choose(case: Case, model: ConfidenceModel) -> Choice:
    if not case.texts:
        return Choice(None, 0.0, 0.0)
    probs = model.probability(case.x)
    i = int(np.argmax(probs))
    return Choice(case.texts[i], float(probs[i]), float(case.f1s()[i]))


def out_of_fold(cases: list[Case], c: float) -> list[Choice]:
    articles = sorted({case.example.title for case in cases})
    fold = {a: i % 2 for i, a in enumerate(articles)}
    choices: list[Choice] = [Choice(None, 0.0, 0.0)] * len(cases)
    for f in (0, 1):
        train = [case for case in cases if fold[case.example.title] != f]
        model = _model(*_stack(train), c)
        for i, case in enumerate(cases):
            if fold[case.example.title] == f:
                choices[i] = choose(case, model)
    return choices


def choose_threshold(
    cases: list[Case],
    choices: list[Choice],
    out_of_corpus: float = OUT_OF_CORPUS_TARGET,
    adversarial: float = ADVERSARIAL_TARGET,
) -> float:
    """The threshold of the highest overall F1 over the answerable and near-miss cases, at or
    above the floor: the lowest threshold at which, in every article, the out-of-corpus (and,
    when asked, the adversarial) cases are refused at least as often as their target asks. Per
    article, not pooled: a pooled share lets an easy article pay for a hard one, and a new set of
    articles lands anywhere in the spread between them."""
    floor = _floor(cases, choices, out_of_corpus, adversarial)
    scored = traded(cases, choices)
    options = sorted({round(ch.p, 4) for _, ch in scored if ch.p >= floor} | {floor})
    best, best_f1 = floor, -1.0
    for t in options:
        f1 = overall_f1(scored, t)
        if f1 > best_f1 + 1e-12:
            best, best_f1 = t, f1
    return best


def traded(cases: list[Case], choices: list[Choice]) -> list[tuple[Case, Choice]]:
    """The cases the threshold trades, with their choices: the answerable questions (never an
    out-of-corpus one, see ``Case.answerable``) and the near-miss ones."""
    return [
        (c, ch)
        for c, ch in zip(cases, choices, strict=True)
        if c.answerable or c.kind == "near_miss"
    ]


def overall_f1(scored: list[tuple[Case, Choice]], threshold: float) -> float:
    """SQuAD 2.0's overall F1 at ``threshold``: answered answerable cases score their token F1,
    refused unanswerable ones 1, everything else 0."""
    if not scored:
        return 0.0
    total = 0.0
    for case, ch in scored:
        answered = ch.text is not None and ch.p >= threshold
        total += (ch.f1 if answered else 0.0) if case.answerable else float(not answered)
    return total / len(scored)


def _floor(
    cases: list[Case], choices: list[Choice], out_of_corpus: float, adversarial: float
) -> float:
    targets = {"out_of_corpus": out_of_corpus, "gold_passage": adversarial}
    groups: dict[tuple[str, str], list[float]] = {}
    for case, ch in zip(cases, choices, strict=True):
        if not case.answerable and case.kind in targets:
            key = (case.kind, case.example.title)
            groups.setdefault(key, []).append(ch.p if ch.text is not None else -1.0)
    for t in sorted({round(ch.p, 4) for ch in choices if ch.text is not None} | {1.0}):
        if all(
            float(np.mean(np.array(scores) < t)) >= targets[kind]
            for (kind, _), scores in groups.items()
        ):
            return t
    return 1.0


def figures(cases: list[Case], choices: list[Choice], threshold: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in (*KINDS, "all"):
        sel = [(c, ch) for c, ch in zip(cases, choices, strict=True) if kind in ("all", c.kind)]
        has = [ch for c, ch in sel if c.answerable]
        no = [ch for c, ch in sel if not c.answerable]
        answered = [ch.text is not None and ch.p >= threshold for _, ch in sel]
        right = [c.answerable and ch.f1 >= CORRECT_F1 for c, ch in sel]
        conf = [ch.p for _, ch in sel]
        ece, _ = calibration(conf, right)
        out[kind] = {
            "questions": len(sel),
            "has_answer_f1_first_choice": _pct([ch.f1 for ch in has]),
            "has_answer_f1": _pct([ch.f1 if ch.p >= threshold else 0.0 for ch in has]),
            "no_answer_accuracy": _pct([float(ch.text is None or ch.p < threshold) for ch in no]),
            "answered": _pct([float(a) for a in answered]),
            "ece": ece,
            "brier": round(float(np.mean((np.array(conf) - np.array(right)) ** 2)), 4)
            if conf
            else None,
        }
    return out


def _pct(values: list[float]) -> float | None:
    return round(100 * float(np.mean(values)), 2) if values else None


def calibrate(
    model: str | Path,
    squad2: str | Path,
    split: Split,
    out: str | Path,
    *,
    c_grid: tuple[float, ...] = C_GRID,
    cases_path: str | Path | None = None,
    out_of_corpus: float = OUT_OF_CORPUS_TARGET,
    adversarial: float = ADVERSARIAL_TARGET,
) -> dict[str, Any]:
    """Fit and write ``calibration.json``; ``cases_path`` keeps the reader's outputs (a pickle
    tied to the weights' fingerprint) so that a refit with other targets reads nothing again."""
    started = time.time()
    cases = _cached_cases(model, squad2, split, cases_path)
    trials = []
    for c in c_grid:
        choices = out_of_fold(cases, c)
        brier = figures(cases, choices, 0.5)["all"]["brier"]
        trials.append((float(brier), c, choices))
        log.info("C %g: out-of-fold Brier %.4f", c, brier)
    _, c, choices = min(trials, key=lambda t: t[0])
    threshold = choose_threshold(cases, choices, out_of_corpus, adversarial)
    final = _model(*_stack(cases), c, threshold)
    final.model_sha256 = model_fingerprint(model)
    final.fitted = {
        "command": "qa calibrate-reader",
        "articles": sorted(split.calibration),
        "cases": {k: sum(1 for case in cases if case.kind == k) for k in KINDS},
        "reader_passages": _depth(),
        "retrieval": _retrieval(),
        "rows": int(sum(len(case.texts) for case in cases)),
        "target": f"token F1 >= {CORRECT_F1} with a gold answer (never, when the documents do "
        "not answer)",
        "l2": f"C={c}: the lowest out-of-fold Brier score of first choices, 2 folds by article",
        "threshold": "out of fold, the highest overall F1 (answerable: token F1 when answered; "
        "near miss: 1 when refused) over the answerable cases (open-domain and gold paragraph) "
        "and the near-miss ones, at or above the lowest threshold at which "
        f"the reader refuses >= {out_of_corpus:.0%} of out-of-corpus questions"
        + (f" and >= {adversarial:.0%} of adversarial ones" if adversarial else "")
        + " in every calibration article",
        "overall_f1": round(100 * overall_f1(traded(cases, choices), threshold), 2),
        "out_of_fold": figures(cases, choices, threshold),
        "trade_off": trade_off(cases, choices),
        "seconds": round(time.time() - started, 1),
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    final.save(Path(out) / CALIBRATION_NAME)
    return final.to_dict()


def _cached_cases(
    model: str | Path, squad2: str | Path, split: Split, path: str | Path | None
) -> list[Case]:
    if path is None:
        return collect(model, squad2, split)
    path = Path(path)
    fingerprint = model_fingerprint(model)
    saved: dict[str, Any] = {}
    if path.exists():
        try:
            with path.open("rb") as f:
                saved = pickle.load(f)
        except (AttributeError, ImportError, pickle.UnpicklingError) as exc:
            # cases pickled by an older layout of the package (their records moved since)
            log.info("%s cannot be read here (%s): reading again", path, exc)
    if saved:
        if (
            saved["model_sha256"] == fingerprint
            and saved.get("reader_passages") == _depth()
            and saved.get("window") == _window()
            and saved.get("retrieval") == _retrieval()
            and saved.get("cases_made") == _cases_made()
        ):
            return list(saved["cases"])
        log.info("%s holds cases of another model, depth, window or retrieval: reading again", path)
    cases = collect(model, squad2, split)
    with path.open("wb") as f:
        pickle.dump(
            {
                "model_sha256": fingerprint,
                "reader_passages": _depth(),
                "window": _window(),
                "retrieval": _retrieval(),
                "cases_made": _cases_made(),
                "cases": cases,
            },
            f,
        )
    return cases


def trade_off(cases: list[Case], choices: list[Choice]) -> list[dict[str, Any]]:
    """Out-of-fold figures at a ladder of thresholds: what each operating point costs."""
    rows = []
    for t in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
        fig = figures(cases, choices, t)
        rows.append(
            {
                "threshold": t,
                "open_domain_has_answer_f1": fig["open_domain"]["has_answer_f1"],
                "open_domain_no_answer_accuracy": fig["open_domain"]["no_answer_accuracy"],
                "out_of_corpus_refused": fig["out_of_corpus"]["no_answer_accuracy"],
                "gold_has_answer_f1": fig["gold_passage"]["has_answer_f1"],
                "adversarial_refused": fig["gold_passage"]["no_answer_accuracy"],
                "near_miss_refused": fig["near_miss"]["no_answer_accuracy"],
            }
        )
    return rows


def calibrate_from_files(
    model: str | Path,
    squad2: str | Path,
    split_path: str | Path,
    out: str | Path,
    **options: Any,
) -> dict[str, Any]:
    return calibrate(model, squad2, Split.load(split_path), out, **options)
