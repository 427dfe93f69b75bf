"""TransformerReader: offsets and text invariants on a tiny randomly initialised BERT QA model
(built here, so the test does not depend on the shipped artifact), its ONNX export, and the shipped
trained reader on a seeds passage."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from support import SEEDS, save_tiny_bert, save_tiny_mpnet

from qa.read.base import Reader
from qa.read.transformer import TransformerReader, span_breaks, tidy_span, whole_words
from qa.settings import SHIPPED_READER
from qa.types import Passage

LONG = (
    "The Normans were the people who in the 10th and 11th centuries gave their name to "
    "Normandy, a region in France. They were descended from Norse raiders and pirates from "
    "Denmark, Iceland and Norway who, under their leader Rollo, agreed to swear fealty to King "
    "Charles III of West Francia. "
) * 6


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-qa"), qa_head=True)


def passages() -> list[Passage]:
    # document offsets: the second passage starts 1000 characters into its document
    return [
        Passage(doc_id="a", chunk_index=0, start=0, end=len(LONG), text=LONG, rank=1),
        Passage(
            doc_id="b",
            chunk_index=3,
            start=1000,
            end=1000 + 60,
            text="  Rollo agreed to swear fealty to King Charles III in 911.  ",
            rank=2,
        ),
    ]


def test_tiny_model_spans_are_verbatim_with_document_offsets(tiny_model: Path) -> None:
    reader = TransformerReader(tiny_model, max_length=64, stride=16)
    assert isinstance(reader, Reader)
    out = reader.read("Who was the leader of the Normans?", passages(), top_n=50)
    assert out.spans and 0.0 <= out.no_answer <= 1.0
    assert out.features["windows"] > 2  # the long passage needed several windows
    by_doc = {p.doc_id: p for p in passages()}
    scores = [s.score for s in out.spans]
    assert scores == sorted(scores, reverse=True)
    for span in out.spans:
        p = by_doc[span.doc_id]
        assert p.start <= span.start < span.end <= p.end
        assert span.text == p.text[span.start - p.start : span.end - p.start]
        assert span.text == span.text.strip() and span.text[-1] not in ",;:"
        assert 0.0 <= span.score <= 1.0
        assert span.passage_rank == p.rank
        assert {"start_logit", "end_logit", "null_margin", "span_logit_raw"} <= set(span.features)
    assert len({(s.doc_id, s.start, s.end) for s in out.spans}) == len(out.spans)
    # without calibration.json the threshold is the neutral 0.5, unless given
    assert reader.default_threshold == 0.5
    assert TransformerReader(tiny_model, threshold=0.2).default_threshold == 0.2


@pytest.fixture(scope="module")
def tiny_mpnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_mpnet(tmp_path_factory.mktemp("tiny-mpnet"), qa_head=True)


@pytest.mark.parametrize("shape", ["bert", "mpnet"])
def test_tiny_model_through_onnx_matches_torch(
    shape: str, tiny_model: Path, tiny_mpnet: Path, tmp_path: Path
) -> None:
    """MPNet (all-mpnet-base-v2's shape) has no segment ids and takes ``position_ids`` third:
    the export passes inputs by name and the graph asks for what the model takes."""
    import onnx

    from qa.train.export import export

    model = tiny_model if shape == "bert" else tiny_mpnet
    onnx_dir = export(model, tmp_path / "onnx", fmt="onnx")
    inputs = {i.name for i in onnx.load(str(onnx_dir / "model.onnx")).graph.input}
    expected = {"input_ids", "attention_mask"} | ({"token_type_ids"} if shape == "bert" else set())
    assert inputs == expected
    question = "Who was the leader of the Normans?"
    torch_out = TransformerReader(model).read(question, passages(), top_n=3)
    onnx_out = TransformerReader(onnx_dir).read(question, passages(), top_n=3)
    assert [(s.doc_id, s.start, s.end) for s in onnx_out.spans] == [
        (s.doc_id, s.start, s.end) for s in torch_out.spans
    ]
    assert np.allclose(
        [s.score for s in onnx_out.spans], [s.score for s in torch_out.spans], atol=1e-3
    )


def test_int8_export_scales_each_channel(tiny_model: Path, tmp_path: Path) -> None:
    import onnx

    from qa.train.export import export

    out = export(tiny_model, tmp_path / "int8")  # the shipped format
    graph = onnx.load(str(out / "model.onnx")).graph
    scales = [list(i.dims) for i in graph.initializer if i.name.endswith("_scale")]
    # the weight matrices carry one scale per output channel (the embedding tables one each)
    per_channel = [dims for dims in scales if dims]
    assert len(per_channel) >= 6 and all(dims[0] > 1 for dims in per_channel)
    spans = TransformerReader(out).read("Who was the leader of the Normans?", passages()).spans
    assert spans and all(s.text for s in spans)


def test_empty_inputs_abstain(tiny_model: Path) -> None:
    reader = TransformerReader(tiny_model)
    assert reader.read("Who?", []).no_answer == 1.0
    blank = Passage(doc_id="x", chunk_index=0, start=0, end=3, text="   ")
    assert reader.read("Who?", [blank]).spans == []


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot load reader model"):
        TransformerReader(tmp_path / "nothing-here").warm_up()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" Rollo, ", "Rollo"),
        ("in 911.", "in 911"),
        ("the U.S.", "the U.S."),
        ("Apple Inc.", "Apple Inc."),
        ('"Rollo', "Rollo"),
        ('"Rollo"', '"Rollo"'),
        ("Charles III (", "Charles III"),
        ("(Charles III)", "(Charles III)"),
        ("Norway)", "Norway"),
    ],
)
def test_tidy_span(text: str, expected: str) -> None:
    s, e = tidy_span(text, 0, len(text))
    assert text[s:e] == expected


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        (
            "expects a \u201csoft\u201d annexation soon",
            "soft\u201d annexation",
            "\u201csoft\u201d annexation",
        ),
        ('expects a "soft" annexation soon', 'soft" annexation', '"soft" annexation'),
        ("the king (Charles III) ruled", "Charles III) ruled", "(Charles III) ruled"),
        ("the king (Charles III) ruled", "king (Charles III", "king (Charles III)"),
        ("Russia\u2019s plan", "s plan", "s plan"),  # an apostrophe is not a quote to close
        ("\u201csoft annexation", "soft annexation", "soft annexation"),  # nothing to close
    ],
)
def test_tidy_span_takes_in_the_quote_it_closes(text: str, span: str, expected: str) -> None:
    start = text.index(span)
    s, e = tidy_span(text, start, start + len(span))
    assert text[s:e] == expected


def test_shipped_reader_answers_a_seeds_question() -> None:
    doc_id = "000_5f0f8e843e26db9e"
    text = (SEEDS / f"{doc_id}.txt").read_text(encoding="utf-8")
    start = text.index("Amidst geopolitical shifts")
    end = text.index("\n", start)
    passage = Passage(
        doc_id=doc_id, chunk_index=0, start=start, end=end, text=text[start:end], rank=1
    )
    reader = TransformerReader(SHIPPED_READER)
    out = reader.read("Who is the chairman of the Tskhinvali parliament?", [passage])
    best = out.spans[0]
    assert best.text == "Alan Alborov"
    assert text[best.start : best.end] == "Alan Alborov"
    assert best.score >= reader.default_threshold > 0.0
    assert out.no_answer == pytest.approx(1.0 - best.score)


def test_the_shipped_reader_reads_a_passage_the_same_beside_any_other() -> None:
    """The int8 graph quantises each run's activations by their own range: run in one batch,
    a passage's logits moved with the passages read beside it. Each window runs alone."""
    long, short = passages()
    reader = TransformerReader(SHIPPED_READER)

    def logits(ps: list[Passage]) -> dict[tuple[int, int], float]:
        out = reader.read("Who swore fealty?", ps, top_n=100)
        return {
            (s.start, s.end): s.features["span_logit_raw"] for s in out.spans if s.doc_id == "b"
        }

    # a passage of about the same length: one batch, when windows ran in batches of a length
    other = replace(short, doc_id="c", text="Charles the Simple gave Rollo the lands of Rouen.")
    alone = logits([short])
    assert alone and logits([short, other]) == alone == logits([other, long, short])


def test_one_meaning_is_one_scored_answer(tiny_model: Path) -> None:
    """Every span the reader returns carries its meaning's evidence, and the spans of one meaning
    share one score."""
    from qa.read.meanings import group_by_meaning

    out = TransformerReader(tiny_model).read("Who agreed to swear fealty?", passages(), top_n=200)
    for group in group_by_meaning(out.spans):
        assert len({sp.score for sp in group}) == 1
        assert {"share", "log_documents", "dense_top"} <= set(group[0].features)
    scores = [sp.score for sp in out.spans]
    assert scores == sorted(scores, reverse=True)


def test_windows_of_different_lengths_read_as_if_alone(tiny_model: Path) -> None:
    """Windows run in batches of similar length; a short passage beside a long one (whose
    windows are full) must score exactly as it does alone."""
    long, short = passages()
    reader = TransformerReader(tiny_model, max_length=64, stride=16)
    together = reader.read("Who swore fealty?", [long, short], top_n=100)
    alone = reader.read("Who swore fealty?", [short], top_n=100)
    from_short = {
        (s.start, s.end): s.features["span_logit_raw"] for s in together.spans if s.doc_id == "b"
    }
    best_alone = {(s.start, s.end): s.features["span_logit_raw"] for s in alone.spans}
    assert together.features["windows"] > 2 and from_short
    for key, logit in from_short.items():
        assert best_alone[key] == pytest.approx(logit, abs=1e-3)


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        ("Alan Alboro", "Alan Alborov"),  # a span ending on a word piece
        ("lan Alborov", "Alan Alborov"),
        ("Alan Alborov", "Alan Alborov"),
        ("Alborov,", "Alborov,"),  # punctuation is tidy_span's business
        ("2008", "2008"),
    ],
)
def test_whole_words(span: str, expected: str) -> None:
    text = "In 2008, Alan Alborov, the chairman, spoke."
    start = text.index(span)
    s, e = whole_words(text, start, start + len(span))
    assert text[s:e] == expected


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        # a caption running into the next paragraph
        (
            "President Putin and the leader of South Ossetia sign the treaty (photo: Moscow "
            "Times)\nAFP commented that the decision was a dangerous blow.\n\nAmerica and NATO "
            "jump up\n",
            ["\n"],
        ),
        # a phrase running on into the next sentence
        (
            "The Sentinel expects a \u201csoft\u201d annexation. What I mean by a \u201csoft\u201d "
            "annexation is a slow one, Dr. Alborov said. It was signed on March 18. ",
            [". What", ". It", "18. The"],
        ),
    ],
    ids=["line-break", "sentence-end"],
)
def test_spans_never_run_across_a_break(tiny_model: Path, text: str, forbidden: list[str]) -> None:
    # an untrained model proposes spans everywhere, so without the rule some of its top 100
    # would run across the breaks
    text *= 3
    passage = Passage(doc_id="n", chunk_index=0, start=0, end=len(text), text=text, rank=1)
    reader = TransformerReader(tiny_model, max_length=64, stride=16, spans_per_window=50)
    out = reader.read("Which news agency commented?", [passage], top_n=100)
    assert len(out.spans) > 20
    assert not [sp.text for sp in out.spans if any(f in sp.text for f in forbidden)]


@pytest.mark.parametrize(
    ("text", "cut_after"),
    [
        # prose: each sentence's end, the last one aside; quotes close with their sentence
        ("He left. She stayed. They wept.", ["He left.", "She stayed."]),
        ("\u201cWe will stay.\u201d Then he left.", ["\u201cWe will stay.\u201d"]),
        # a line break cuts wherever it is, before it (the break itself is not in an answer)
        ("Moscow Times\nAFP reported it", ["Moscow Times"]),
        # cuts the segmenter makes that prose would not: inside formulas
        ("By Wilson's theorem (p \u2212 1)! + 1 is divisible by p.", []),
        ("The k-th block is [256kn + 1, 256k(n + 1) \u2212 1], which holds primes.", []),
    ],
)
def test_span_breaks(text: str, cut_after: list[str]) -> None:
    assert span_breaks(text).tolist() == [len(prefix) for prefix in _prefixes(text, cut_after)]


def _prefixes(text: str, cut_after: list[str]) -> list[str]:
    """The text up to the end of each piece, the pieces found in order."""
    out, pos = [], 0
    for piece in cut_after:
        pos = text.index(piece, pos) + len(piece)
        out.append(text[:pos])
    return out
