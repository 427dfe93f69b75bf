"""The packaged-parts reader with the real spaCy model, the real MiniLM and the shipped weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import CHAIRMAN, CHAIRMAN_DOC, CHAIRMAN_Q, SEEDS

from qa.answers import normalize_answer
from qa.readers.answer_types import ENTITY, MODIFIER, NUMERIC, PHRASE, detect
from qa.readers.base import Reader
from qa.readers.heuristic import WEIGHTS, HeuristicReader, WeightsError, load_weights
from qa.readers.heuristic_fit import f1_score, fit_conditional_logit, fit_logistic
from qa.types import Passage


@pytest.fixture(scope="module")
def reader() -> HeuristicReader:
    r = HeuristicReader()
    r.warm_up()
    return r


def paragraph_passage(doc_id: str, needle: str, rank: int = 1) -> Passage:
    """The line of a seed file that holds ``needle``, as a passage with document offsets."""
    text = (SEEDS / f"{doc_id}.txt").read_text(encoding="utf-8")
    at = text.index(needle)
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    end = len(text) if end == -1 else end
    return Passage(
        doc_id=doc_id, chunk_index=0, start=start, end=end, text=text[start:end], rank=rank
    )


def test_answers_the_chairman_question_with_exact_document_offsets(reader: HeuristicReader):
    passage = paragraph_passage(CHAIRMAN_DOC, CHAIRMAN)
    out = reader.read(CHAIRMAN_Q, [passage])
    best = out.spans[0]
    doc_text = (SEEDS / f"{CHAIRMAN_DOC}.txt").read_text(encoding="utf-8")
    assert best.text == CHAIRMAN
    assert (best.start, best.end) == (doc_text.index(CHAIRMAN), doc_text.index(CHAIRMAN) + 12)
    assert doc_text[best.start : best.end] == CHAIRMAN
    assert best.doc_id == CHAIRMAN_DOC
    assert best.score >= reader.default_threshold
    # the evidence is there for a user to read
    assert best.features["type_match"] == 1.0
    assert {"sent_sim", "sent_lex", "window_lex", "p_span", "no_answer"} <= set(best.features)


def test_is_a_reader(reader: HeuristicReader):
    assert isinstance(reader, Reader)
    assert reader.name == "heuristic"
    assert 0.0 <= reader.default_threshold <= 1.0


@pytest.mark.parametrize(
    ("question", "form", "label", "head"),
    [
        ("Who wrote the report?", ENTITY, "PERSON", None),
        ("When did the war start?", ENTITY, "DATE", None),
        ("Where is the parliament located?", ENTITY, "GPE", None),
        ("How many troops were sent?", NUMERIC, "CARDINAL", "troop"),
        ("How much did the bridge cost?", NUMERIC, "MONEY", None),
        ("How long did the talks last?", NUMERIC, "DATE", None),
        ("Which news agency reported the signing?", ENTITY, "ORG", "agency"),
        ("In what year was the treaty signed?", ENTITY, "DATE", "year"),
        ("Which Moscow-led military alliance is it part of?", ENTITY, "ORG", "alliance"),
        ("What is the name of the river?", ENTITY, "LOC", "river"),
        ("What kind of border crossing is planned?", MODIFIER, None, "crossing"),
        ("What did the minister promise?", PHRASE, None, None),
        ("Why did the talks fail?", PHRASE, None, None),
    ],
)
def test_answer_type_detection(
    reader: HeuristicReader, question: str, form: str, label: str | None, head: str | None
):
    at = detect(reader._nlp(question))
    assert at.form == form
    if label is None:
        assert not at.labels
    else:
        assert label in at.labels
    assert at.head == head


def test_plural_question_expects_a_list(reader: HeuristicReader):
    assert detect(reader._nlp("Which two regions broke away?")).plural
    assert not detect(reader._nlp("Which region broke away?")).plural


def test_offsets_and_ordering_over_several_passages(reader: HeuristicReader):
    docs = {p.stem: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}
    passages = [
        paragraph_passage("000_5f0f8e843e26db9e", "Following the dissolution", rank=1),
        paragraph_passage("002_2d6e83c6a40a146a", "According to AFP", rank=2),
        paragraph_passage("003_ae8961adcff38b97", "NATO", rank=3),
        paragraph_passage("004_ac8b6d61d6b7d856", "Izvestia", rank=4),
    ]
    question = "Which alliance did Russia sign with South Ossetia?"
    out = reader.read(question, passages, top_n=30)
    assert len(out.spans) == 30
    scores = [s.score for s in out.spans]
    assert scores == sorted(scores, reverse=True)
    seen = set()
    for span in out.spans:
        passage = next(p for p in passages if p.doc_id == span.doc_id)
        assert passage.start <= span.start < span.end <= passage.end
        assert docs[span.doc_id][span.start : span.end] == span.text
        assert passage.text[span.start - passage.start : span.end - passage.start] == span.text
        assert 0.0 <= span.score <= 1.0
        assert span.passage_rank == passage.rank
        key = (span.doc_id, passage.start, normalize_answer(span.text))
        assert key not in seen  # deduplicated within a passage
        seen.add(key)
        # never an answer made only of the question's words
        words = set(normalize_answer(span.text).split())
        assert not words <= set(normalize_answer(question).split())


def test_abstains_on_an_unrelated_question(reader: HeuristicReader):
    passage = paragraph_passage(CHAIRMAN_DOC, CHAIRMAN)
    unrelated = reader.read("What is the boiling point of liquid nitrogen?", [passage])
    related = reader.read(CHAIRMAN_Q, [passage])
    assert unrelated.spans, "candidates are still listed, with low scores"
    assert unrelated.spans[0].score < reader.default_threshold
    assert unrelated.no_answer > 0.5
    assert unrelated.no_answer > related.no_answer


def test_no_passages_means_no_answer(reader: HeuristicReader):
    out = reader.read(CHAIRMAN_Q, [])
    assert out.spans == []
    assert out.no_answer == 1.0


def test_repeated_reads_are_identical(reader: HeuristicReader):
    passage = paragraph_passage(CHAIRMAN_DOC, CHAIRMAN)
    first = reader.read(CHAIRMAN_Q, [passage]).to_dict()
    assert reader.read(CHAIRMAN_Q, [passage]).to_dict() == first  # the second one is cached


def test_threshold_override_and_validation():
    assert HeuristicReader(threshold=0.42).default_threshold == 0.42
    with pytest.raises(ValueError):
        HeuristicReader(threshold=1.5)


def test_shipped_weights_match_the_features_and_describe_their_fit():
    data = load_weights(WEIGHTS)
    held_out = set(data["fit"]["held_out_articles"])
    assert len(held_out) == 8
    assert not held_out & set(data["fit"]["span_training"]["articles"])
    assert 0.0 < data["threshold"] < 1.0


def test_weights_for_other_features_are_refused(tmp_path: Path):
    data = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    data["span"]["features"] = data["span"]["features"][:-1]
    bad = tmp_path / "weights.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(WeightsError, match="refit"):
        HeuristicReader(weights=bad)
    with pytest.raises(WeightsError, match="missing"):
        HeuristicReader(weights=tmp_path / "absent.json")


def test_fit_logistic_recovers_known_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    p = 1 / (1 + np.exp(-(x @ np.array([2.0, -1.0]) + 0.5)))
    y = (rng.random(4000) < p).astype(float)
    w, b = fit_logistic(x, y, l2=0.01)
    assert np.allclose(w, [2.0, -1.0], atol=0.25) and abs(b - 0.5) < 0.2


def test_fit_conditional_logit_ranks_the_target_first():
    rng = np.random.default_rng(1)
    groups, size = 200, 6
    x = rng.normal(size=(groups * size, 2))
    group = np.repeat(np.arange(groups), size)
    best = [g * size + int(np.argmax(x[g * size : (g + 1) * size, 0])) for g in range(groups)]
    target = np.zeros(groups * size)
    target[best] = 1.0
    w = fit_conditional_logit(x, target, group, l2=0.1)
    assert w[0] > 1.0 and abs(w[1]) < w[0] / 4


def test_squad_f1():
    assert f1_score("the USSR", "USSR") == 1.0
    assert f1_score("Alan Alborov", "Alborov") == pytest.approx(2 / 3)
    assert f1_score("", "x") == 0.0


def test_candidates_never_cross_a_line_break(reader: HeuristicReader):
    # no full stop ends the caption, so the parser runs it into the next line's sentence
    text = (
        "President Putin and the leader of South Ossetia sign the Treaty of Alliance and "
        "Integration (photo: Moscow Times)\nAFP commented that Russia's decision was a "
        '"dangerous blow".'
    )
    passage = Passage(doc_id="n", chunk_index=0, start=0, end=len(text), text=text, rank=1)
    out = reader.read("Which news agency commented on the decision?", [passage], top_n=50)
    assert "AFP" in {s.text for s in out.spans}
    assert all("\n" not in s.text for s in out.spans)
