"""The reader's fitted confidence model: its file format, and refusal to describe other weights
or other features than it was fitted on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import save_tiny_bert

from qa.read.confidence import (
    FEATURE_VERSION,
    FEATURES,
    ConfidenceModel,
    Evidence,
    FittedArtifactMismatch,
    model_fingerprint,
)
from qa.read.transformer import CALIBRATION_NAME, TransformerReader
from qa.settings import SHIPPED_READER
from qa.types import Passage


def _model(sha: str = "", threshold: float = 0.4) -> ConfidenceModel:
    n = len(FEATURES)
    weights = tuple(2.0 if f == "null_margin" else 0.0 for f in FEATURES)
    return ConfidenceModel(weights, 0.0, (0.0,) * n, (1.0,) * n, threshold, model_sha256=sha)


def test_probability_is_the_logistic_of_the_standardised_features() -> None:
    ev = Evidence(1.5, 3.0, 0.2, 0.6, 2, 0.5, 0.4, 1, 1.0, 0.5, 0.5)
    p = _model().probability(ev.vector())
    assert p.shape == (1,)
    assert p[0] == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert list(ev.as_features()) == list(FEATURES)


def test_round_trip_and_validation(tmp_path: Path) -> None:
    path = tmp_path / CALIBRATION_NAME
    _model("abc").save(path)
    loaded = ConfidenceModel.load(path, "abc")
    assert loaded.threshold == 0.4 and loaded.weights == _model().weights
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "scale": [0.0] * len(FEATURES)}))
    with pytest.raises(ValueError, match="scales must be positive"):
        ConfidenceModel.load(path, "abc")
    path.write_text(json.dumps({"input": "null_margin", "isotonic": {}, "threshold": 0.3}))
    with pytest.raises(ValueError, match="qa calibrate-reader"):
        ConfidenceModel.load(path, "abc")


def test_refuses_other_weights_and_other_features(tmp_path: Path) -> None:
    path = tmp_path / CALIBRATION_NAME
    _model("a" * 64).save(path)
    with pytest.raises(FittedArtifactMismatch, match="fitted on weights aaaaaaaaaaaa"):
        ConfidenceModel.load(path, "b" * 64)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "feature_version": FEATURE_VERSION + 1}))
    with pytest.raises(FittedArtifactMismatch, match="feature version"):
        ConfidenceModel.load(path, "a" * 64)


def test_a_reader_refuses_a_confidence_fitted_on_other_weights(tmp_path: Path) -> None:
    model = save_tiny_bert(tmp_path / "tiny", qa_head=True)
    _model("0" * 64).save(model / CALIBRATION_NAME)
    with pytest.raises(FittedArtifactMismatch):
        TransformerReader(model).warm_up()
    _model(model_fingerprint(model), threshold=0.25).save(model / CALIBRATION_NAME)
    reader = TransformerReader(model)
    reader.warm_up()
    assert reader.default_threshold == 0.25


def test_shipped_confidence_matches_shipped_weights() -> None:
    model = ConfidenceModel.load(
        SHIPPED_READER / CALIBRATION_NAME, model_fingerprint(SHIPPED_READER)
    )
    assert model.model_sha256 and 0.0 < model.threshold < 1.0
    assert model.fitted["articles"]


def test_uncalibrated_model_orders_by_null_margin() -> None:
    model = ConfidenceModel.uncalibrated()
    lo = Evidence(-2.0, 1.0, 0.1, 0.5, 1, 0.3, 0.3, 1, 1.0, 1.0, 1.0).vector()
    hi = Evidence(2.0, 1.0, 0.1, 0.5, 1, 0.3, 0.3, 1, 1.0, 1.0, 1.0).vector()
    p = model.probability(np.vstack([lo, hi]))
    assert p[0] < 0.5 < p[1]


def test_reader_features_come_from_the_passages(tmp_path: Path) -> None:
    model = save_tiny_bert(tmp_path / "tiny", qa_head=True)
    text = "Rollo agreed to swear fealty to King Charles III in 911."
    passage = Passage("d", 0, 0, len(text), text, rank=2, scores={"dense": 0.42})
    out = TransformerReader(model).read("Who swore fealty?", [passage])
    f = out.spans[0].features
    assert f["dense_top"] == pytest.approx(0.42) and f["dense_own"] == pytest.approx(0.42)
    assert f["inverse_rank"] == pytest.approx(0.5)
    assert f["log_documents"] == pytest.approx(np.log(2))


def test_reader_features_say_how_much_of_the_question_the_passages_mention(
    tmp_path: Path,
) -> None:
    """Every term of the question is in the first passage; the second, read for a question on
    another subject, mentions none of them."""
    model = save_tiny_bert(tmp_path / "tiny", qa_head=True)
    on = "Rollo agreed to swear fealty to King Charles III in 911."
    off = "The rainforest covers most of the Amazon basin of South America."
    passages = [
        Passage("a", 0, 0, len(on), on, rank=1),
        Passage("b", 0, 0, len(off), off, rank=2),
    ]
    out = TransformerReader(model).read("Whom did Rollo swear fealty to?", passages, top_n=200)
    by_doc = {sp.doc_id: sp.features for sp in out.spans}
    assert set(by_doc) == {"a", "b"}
    assert by_doc["a"]["terms_own"] == pytest.approx(1.0)
    assert by_doc["a"]["terms_near"] == pytest.approx(1.0)
    assert by_doc["b"]["terms_own"] == 0.0 and by_doc["b"]["terms_near"] == 0.0
    assert by_doc["a"]["terms_top"] == by_doc["b"]["terms_top"] == pytest.approx(1.0)
