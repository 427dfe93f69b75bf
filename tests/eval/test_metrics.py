"""Scoring against cases worked out by hand, including the official SQuAD v2.0 script's edge
cases (normalization, empty golds meaning "no answer")."""

from __future__ import annotations

import math

import pytest

from qa.eval import metrics as M
from qa.eval.runner import contains_answer, sample


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("  an\tapple \n a day ", "apple day"),  # articles anywhere, any whitespace
        ("theater anthem", "theater anthem"),  # articles only as whole words
        ("U.S.A.", "usa"),  # punctuation removed, not replaced by a space
        ("rock-'n'-roll!", "rocknroll"),
        ("A", ""),
        ("“Quoted”", "“quoted”"),  # the official script strips ASCII punctuation only
        ("1,345,596", "1345596"),
    ],
)
def test_normalize_answer_like_the_official_script(text: str, expected: str):
    assert M.squad_words(text) == expected


def test_exact_match_ignores_case_articles_punctuation_and_spacing():
    assert M.exact_match("the  Eiffel tower.", "Eiffel Tower") == 1
    assert M.exact_match("Eiffel", "Eiffel Tower") == 0


def test_f1_by_hand():
    # pred {cat, sat, on, mat} vs gold {cat, on, mat}: P = 3/4, R = 1, F1 = 6/7
    assert M.f1_score("the cat sat on the mat", "cat on mat") == pytest.approx(6 / 7)
    # repeated tokens count once per occurrence: common = {x: 1, y: 1}; P = R = 2/3
    assert M.f1_score("x x y", "x y y") == pytest.approx(2 / 3)
    assert M.f1_score("completely different", "answer") == 0.0


def test_best_over_golds():
    golds = ["10th and 11th centuries", "in the 10th century"]
    # vs gold 2: {10th, century} in {in, 10th, century}: P = 1, R = 2/3 -> 0.8 (gold 1 gives 1/3)
    assert M.best_f1("10th century", golds) == pytest.approx(0.8)
    assert M.best_exact("In the 10th century", golds) == 1


def test_no_answer_semantics_of_the_v2_script():
    assert M.best_exact("", []) == 1 and M.best_f1("", []) == 1.0
    assert M.best_exact("France", []) == 0 and M.best_f1("France", []) == 0.0
    assert M.best_f1("", ["France"]) == 0.0
    # golds that normalize to nothing are dropped; none left means unanswerable
    assert M.gold_answers(["the", "."]) == [""]
    assert M.best_exact("", ["the"]) == 1
    # a prediction that normalizes to nothing counts as no answer
    assert M.best_f1("the", ["France"]) == 0.0 and M.best_f1("a", []) == 1.0


def _scored(answers: list[str], candidate: str | None, conf: float | None, answered: bool):
    return M.score_prediction(answers, candidate, conf, answered)


def test_squad_summary_in_percent_split_by_answerability():
    scored = [
        _scored(["France"], "France", 0.9, True),  # EM 1
        _scored(["cat on mat"], "the cat sat on the mat", 0.8, True),  # EM 0, F1 6/7
        _scored([], "Paris", 0.7, True),  # answered an unanswerable question: 0
        _scored([], "Rome", 0.1, False),  # abstained on an unanswerable question: 1
    ]
    s = M.squad_summary(scored)
    assert s["exact_match"] == 50.0
    assert s["f1"] == round(100 * (1 + 6 / 7 + 0 + 1) / 4, 2)
    assert s["has_answer_exact"] == 50.0
    assert s["has_answer_f1"] == round(100 * (1 + 6 / 7) / 2, 2)
    assert s["no_answer_accuracy"] == 50.0
    assert s["answered_rate"] == 75.0


def test_best_threshold_sweeps_confidence():
    scored = [
        _scored(["France"], "France", 0.9, True),  # +1 when answered
        _scored(["Spain"], "Italy", 0.6, True),  # 0 either way
        _scored([], "Paris", 0.5, True),  # -1 when answered
        _scored([], "Rome", 0.2, False),  # -1 when answered
    ]
    # abstain on all: 2 of 4; answering only the 0.9 one: 3 of 4, the best
    assert M.best_threshold(scored) == (0.9, 75.0)
    assert M.best_threshold(scored, "exact") == (0.9, 75.0)


def test_best_threshold_answers_equal_confidences_together_and_may_abstain_on_all():
    tied = [
        _scored(["a b"], "a b", 0.5, True),
        _scored([], "c", 0.5, True),
        _scored([], "d", 0.5, True),
    ]
    # at 0.5 all three are answered (1 of 3 right); above it none (2 of 3 right)
    assert M.best_threshold(tied) == (None, round(200 / 3, 2))
    missing = [_scored(["x"], None, None, False), _scored([], None, None, False)]
    assert M.best_threshold(missing) == (None, 50.0)


def test_calibration_ece_by_hand():
    ece, bins = M.calibration([0.95, 0.95, 0.15, 0.15], [True, False, False, False], bins=10)
    # bin (0.9, 1]: confidence .95, accuracy .5; bin (0.1, 0.2]: .15 vs 0; each holds half
    assert ece == pytest.approx(0.5 * 0.45 + 0.5 * 0.15)
    assert bins[9]["count"] == 2 and bins[9]["accuracy"] == 0.5
    assert bins[1]["count"] == 2 and bins[1]["confidence"] == pytest.approx(0.15)
    assert bins[0]["count"] == 0 and math.isnan(bins[0]["accuracy"])
    assert M.calibration([], []) == (None, [])
    assert M.calibration([0.0, 1.0], [False, True])[0] == 0.0


def test_ranking_metrics_through_ranx():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"z": 1}, "q4": {"c": 0}}
    run = {"q1": ["a", "c"], "q2": ["c", "d", "b"], "q3": ["x"]}
    got = M.ranking_metrics(qrels, run, M.BEIR_RANKING)
    # q4 has no relevant item and is left out; q3 finds nothing
    assert got["recall@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert got["recall@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert got["mrr@10"] == pytest.approx((1 + 1 / 3) / 3, abs=1e-4)
    assert got["ndcg@10"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)  # 1/log2(4) = 0.5
    assert got["recall@100"] == pytest.approx(2 / 3, abs=1e-4)
    assert M.ranking_metrics({}, {}, M.QA_RANKING) == dict.fromkeys(M.QA_RANKING)


def test_true_recall_counts_every_relevant_document():
    got = M.ranking_metrics(
        {"q": {"a": 1, "b": 1, "c": 1, "d": 2}},
        {"q": ["a", "x", "d"]},
        {"recall@100": "recall@100"},
    )
    assert got["recall@100"] == 0.5


def test_hit_curve_and_percentiles():
    assert M.hit_curve([1, 3, None, 2], max_k=3) == [0.25, 0.5, 0.75]
    p = M.percentiles([float(x) for x in range(1, 101)])
    assert p["p50"] == 50.5 and p["p99"] == pytest.approx(99.01) and p["mean"] == 50.5
    assert M.percentiles([])["p50"] is None


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("In what country is Normandy located?", "what"),
        ("Whose idea was it?", "who"),
        ("To whom did he write?", "who"),
        ("How many naval bases are there?", "how"),
        ("Which Florida city is largest?", "which"),
        ("Name the largest city.", "other"),
        ("When and where was it signed?", "when"),
    ],
)
def test_question_type(question: str, kind: str):
    assert M.question_type(question) == kind


def test_contains_answer_on_word_boundaries_after_normalization():
    assert contains_answer("The population was 1,345,596 in 2010.", ["1345596"])
    assert contains_answer("founded in the 10th century", ["The 10th Century"])
    assert not contains_answer("in 19110 it rained", ["1911"])
    assert not contains_answer("anything", ["", "the"])


def test_sample_is_seeded_stable_and_in_data_order():
    items = list(range(100))
    a = sample(items, 10, seed=3)
    assert a == sample(items, 10, seed=3) and a == sorted(a) and len(set(a)) == 10
    assert a != sample(items, 10, seed=4)
    assert sample(items, None, 0) == items and sample(items, 500, 0) == items
    with pytest.raises(ValueError, match="at least 1"):
        sample(items, 0, 0)
