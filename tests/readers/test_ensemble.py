"""The ensemble reader with the shipped trained reader, the packaged-parts reader and the shipped
ensemble weights, on the seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import CHAIRMAN, CHAIRMAN_DOC, CHAIRMAN_Q

from qa.eval.formats import Example
from qa.readers import make_reader
from qa.readers.base import Reader
from qa.readers.ensemble import (
    FEATURES,
    WEIGHTS,
    EnsembleReader,
    WeightsError,
    candidates,
    feature_matrix,
    load_weights,
)
from qa.readers.ensemble_fit import Case, _limit, choose_threshold
from qa.readers.heuristic import HeuristicReader
from qa.readers.transformer import TransformerReader
from qa.service import QAService
from qa.settings import SHIPPED_READER, Settings
from qa.types import Passage, ReaderOutput, Span


@pytest.fixture(scope="module")
def reader(seeds_service: QAService) -> EnsembleReader:
    r = seeds_service.reader
    assert isinstance(r, EnsembleReader), "the shipped default reader is the ensemble"
    r.warm_up()
    return r


def test_is_the_default_reader_and_a_reader(reader: EnsembleReader):
    assert isinstance(reader, Reader)
    assert reader.name.startswith("ensemble(transformer:")
    assert 0.0 < reader.default_threshold < 1.0
    assert reader.transformer_passages >= 1


def test_answers_the_chairman_question_with_both_readers_agreeing(
    reader: EnsembleReader, seeds_service: QAService, seeds_text: dict[str, str]
):
    passages = seeds_service.search(CHAIRMAN_Q)
    out = reader.read(CHAIRMAN_Q, passages)
    best = out.spans[0]
    assert best.text == CHAIRMAN and best.doc_id == CHAIRMAN_DOC
    assert seeds_text[CHAIRMAN_DOC][best.start : best.end] == CHAIRMAN
    assert best.score >= reader.default_threshold
    assert out.no_answer == pytest.approx(1.0 - best.score, abs=1e-6)
    # why it was chosen: both readers proposed it
    assert best.features["both"] == 1.0 and best.features["t_top"] == 1.0
    assert set(FEATURES) <= set(best.features)
    # every span's text is copied from its document
    for span in out.spans:
        assert seeds_text[span.doc_id][span.start : span.end] == span.text


def test_abstains_on_a_question_the_seeds_do_not_answer(seeds_service: QAService):
    result = seeds_service.ask("Who painted the Mona Lisa?")
    assert result.answer is None and result.answers == []
    assert result.passages  # the passages are still listed


def test_transformer_reads_only_the_first_passages(
    reader: EnsembleReader, seeds_service: QAService
):
    passages = seeds_service.search(CHAIRMAN_Q, top_k=5)
    shallow = EnsembleReader(reader.transformer, reader.heuristic, transformer_passages=1)
    t_out, h_out = shallow.read_both(CHAIRMAN_Q, passages)
    assert t_out.spans and all(s.passage_rank == passages[0].rank for s in t_out.spans)
    assert {s.passage_rank for s in h_out.spans} > {passages[0].rank}


def test_one_candidate_per_text_citing_every_document():
    def span(text: str, doc: str, score: float, **features: float) -> Span:
        return Span(text, doc, 0, len(text), score, passage_rank=1, features=features)

    t_out = ReaderOutput(
        [span("the USSR", "a", 0.6, span_logit=9.0), span("Georgia", "a", 0.2, span_logit=5.0)],
        no_answer=0.4,
    )
    h_out = ReaderOutput([span("USSR", "b", 0.5, p_span=0.7)], no_answer=0.2)
    cands = candidates(t_out, h_out)
    assert [c.key for c in cands] == ["ussr", "georgia"]
    assert {s.doc_id for s in cands[0].spans} == {"a", "b"}
    x = feature_matrix(cands, t_out, h_out)
    row = dict(zip(FEATURES, x[0], strict=True))
    assert row["both"] == 1.0 and row["t_top"] == 1.0 and row["h_top"] == 1.0
    assert row["h_share"] == pytest.approx(0.7)
    assert row["t_share"] > 0.9  # softmax of logits 9 vs 5
    assert dict(zip(FEATURES, x[1], strict=True))["h_present"] == 0.0


def test_weights_must_match_the_features(tmp_path: Path):
    with pytest.raises(WeightsError, match="missing"):
        load_weights(tmp_path / "nope.json")
    data = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    data["confidence"]["features"] = data["confidence"]["features"][:-1]
    bad = tmp_path / "w.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(WeightsError, match=r"confidence model .* refit"):
        load_weights(bad)


def test_shipped_weights_were_fitted_on_the_calibration_half_only():
    shipped = load_weights()
    split = json.loads((SHIPPED_READER / "split.json").read_text(encoding="utf-8"))
    assert shipped["fit"]["articles"] == sorted(split["calibration"])
    assert not set(shipped["fit"]["articles"]) & set(split["test"] + split["train"])
    assert str(shipped["transformer_passages"]) in shipped["fit"]["out_of_fold"]


def test_auto_picks_the_ensemble_only_for_the_shipped_model():
    assert isinstance(make_reader(Settings(), _embedder()), EnsembleReader)
    # a model of the user's own: the weights do not describe it, so it reads alone
    own = make_reader(Settings(reader_model=str(SHIPPED_READER)), _embedder())
    assert isinstance(own, TransformerReader)
    assert isinstance(make_reader(Settings(reader="heuristic"), _embedder()), HeuristicReader)
    explicit = make_reader(Settings(reader="ensemble", answer_threshold=0.3), _embedder())
    assert isinstance(explicit, EnsembleReader) and explicit.default_threshold == 0.3


def _embedder():  # construction only: nothing loads until a reader warms up
    from qa.embed import Embedder

    return Embedder(Settings().embed_model)


def test_limit_keeps_only_spans_of_the_first_passages():
    spans = [Span("x", "d", 0, 1, 0.5, passage_rank=r) for r in (1, 3, 2, 5)]
    out = _limit(ReaderOutput(spans, no_answer=0.5), 2)
    assert [s.passage_rank for s in out.spans] == [1, 2]


def test_threshold_is_the_lowest_that_abstains_enough_in_every_mode():
    def case(kind: str, answers: list[str]) -> Case:
        empty = ReaderOutput([], no_answer=1.0)
        return Case(Example("q", "q?", answers), kind, "A", empty, empty)

    cases = [case("gold_passage", ["x"])] + [case("gold_passage", []) for _ in range(4)]
    cases += [case("open_domain", []) for _ in range(2)] + [case("out_of_corpus", ["y"])]
    preds: list[tuple[str | None, float]] = [("x", 0.9)]
    preds += [("z", s) for s in (0.2, 0.4, 0.6, 0.8)]  # gold-passage unanswerable
    preds += [("z", 0.3), (None, 0.0)]  # open-domain unanswerable; nothing proposed
    preds += [("w", 0.5)]  # out of corpus
    # 3 of 4 gold-passage abstentions need t > 0.6; the open-domain pair and the out-of-corpus
    # case are then abstained on too
    assert choose_threshold(cases, preds, no_answer=0.75, out_of_corpus=1.0) == 0.8
    # all out-of-corpus abstentions at a lower no-answer target: t > 0.5
    assert choose_threshold(cases, preds, no_answer=0.5, out_of_corpus=1.0) == 0.6
    assert choose_threshold(cases, preds, no_answer=0.5, out_of_corpus=0.0) == 0.5
    # unreachable: abstain on everything
    assert choose_threshold(cases, [("z", 0.99)] * len(cases), no_answer=1.0) == 1.0


def test_no_passages_no_answer(reader: EnsembleReader):
    out = reader.read("Who?", [])
    assert out.spans == [] and out.no_answer == 1.0
    assert reader.read(CHAIRMAN_Q, [Passage("d", 0, 0, 3, "   ")]).spans == []
