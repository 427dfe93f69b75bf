"""Training pipeline: split by article, window labels, a seconds-long training run on a tiny
model that resumes exactly, calibration fitting, and the SQuAD metrics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from support import CONTEXT, save_tiny_bert, save_tiny_mpnet, squad, squad_example

from qa.eval.metrics import exact_match, squad_words
from qa.eval.metrics import f1_score as f1
from qa.read.transformer import TransformerReader
from qa.train.cli import main
from qa.train.data import (
    Split,
    load_source,
    load_squad,
    make_split,
    retrieved_negatives,
    titles,
    training_examples,
)
from qa.train.features import encode_windows


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # like MiniLM: an encoder without a QA head
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-base"), qa_head=False)


def test_load_squad_drops_answers_with_wrong_offsets(squad_files: tuple[Path, Path]) -> None:
    examples = load_squad(squad_files[0])
    assert len(examples) == 6 * 4  # the "Broken offset?" question of each article is dropped
    assert all(e.context[s : s + len(t)] == t for e in examples for t, s in e.spans)
    assert all(not e.answerable for e in load_squad(squad_files[1]))


def test_load_squad_rejects_other_json(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not SQuAD"):
        load_squad(bad)


def test_split_is_by_article_seeded_and_disjoint() -> None:
    all_titles = [f"T{k}" for k in range(40)]
    pool = all_titles[:27]
    split = make_split(all_titles, list(reversed(pool)), n_held_out=8, seed=13)
    assert split == make_split(all_titles, pool, n_held_out=8, seed=13)  # order-independent
    assert split != make_split(all_titles, pool, n_held_out=8, seed=14)
    assert len(split.held_out) == 8 and set(split.held_out) <= set(pool)
    assert not set(split.train) & set(split.held_out)
    assert not set(split.calibration) & set(split.test)
    assert set(split.train) | set(split.held_out) == set(all_titles)
    assert Split.from_dict(json.loads(json.dumps(split.to_dict()))) == split


def test_training_examples_exclude_held_out_articles(squad_files: tuple[Path, Path]) -> None:
    data, no_answer = (load_squad(p) for p in squad_files)
    split = make_split(titles(data), titles(no_answer), n_held_out=2, seed=1)
    train = training_examples(data, no_answer + data, split)  # repeats are kept once
    assert {e.title for e in train} == set(split.train)
    assert len({(e.question, e.context) for e in train}) == len(train)
    assert any(not e.answerable for e in train)


def test_window_labels_point_at_the_answer(tiny_base: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    long_context = ("Filler sentence about nothing in particular. " * 20) + CONTEXT
    answer_start = long_context.index("911")
    question = "When did Rollo swear fealty?"
    ex = squad_example("q", "t", question, long_context, [("911", answer_start)])
    windows = encode_windows(tokenizer, [ex], max_length=64, stride=16)
    assert len(windows) > 2
    labelled = [w for w in windows if w.start > 0]
    assert labelled, "some window holds the answer"
    for w in labelled:
        assert tokenizer.decode(w.input_ids[w.start : w.end + 1]) == "911"
    assert any(w.start == w.end == 0 for w in windows)  # the others point at [CLS]


def test_train_smoke_resumes_exactly_and_answers(
    tiny_base: Path, squad_files: tuple[Path, Path], tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    data, no_answer = squad_files
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(squad({"Elsewhere": 3})))
    common = [
        "--extra",
        f"{extra}:3",
        "--negatives",
        "2",
        "--bf16",
        "--data",
        str(data),
        "--no-answer",
        str(no_answer),
        "--base-model",
        str(tiny_base),
        "--held-out",
        "2",
        "--batch",
        "4",
        "--seq-len",
        "64",
        "--stride",
        "16",
        "--max-steps",
        "4",
        "--save-every",
        "2",
        "--lr",
        "1e-3",
    ]
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    assert main(["train-reader", *common, "--out", str(run_a)]) == 0
    final = run_a / "final"
    assert (final / "config.json").exists() and (run_a / "checkpoint.pt").exists()
    split = Split.load(run_a / "split.json")
    assert len(split.held_out) == 2

    # an interrupted run (checkpoint at step 2) resumed to step 4 ends with the same weights
    run_b.mkdir()
    shutil.copy(run_a / "checkpoint.pt", run_b / "checkpoint.pt")
    assert main(["train-reader", *common, "--out", str(run_b), "--resume"]) == 0
    wa, wb = (load_file(str(r / "final" / "model.safetensors")) for r in (run_a, run_b))
    assert wa.keys() == wb.keys()
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)
    log = [json.loads(line) for line in (run_b / "train.log").read_text().splitlines()]
    assert log[-1] == {**log[-1], "done": True, "step": 4}

    config = json.loads((run_a / "train_config.json").read_text())
    assert config["bf16"] is True
    reader = TransformerReader(final)
    out = reader.read("Who ruled Normandy first?", [_passage()])
    assert out.spans and out.spans[0].text == CONTEXT[out.spans[0].start : out.spans[0].end]


def test_train_an_encoder_without_segment_ids(
    squad_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """all-mpnet-base-v2's shape: no ``token_type_ids`` in its ``forward``, RoBERTa-style pairs.
    It trains, and its reader answers verbatim, by torch and through the int8 export."""
    from qa.train.export import export

    base = save_tiny_mpnet(tmp_path / "base", qa_head=False)
    data, no_answer = squad_files
    args = ["--data", str(data), "--no-answer", str(no_answer), "--base-model", str(base)]
    args += ["--held-out", "2", "--batch", "4", "--seq-len", "64", "--stride", "16"]
    args += ["--max-steps", "2", "--lr", "1e-3", "--out", str(tmp_path / "run")]
    assert main(["train-reader", *args]) == 0
    final = tmp_path / "run" / "final"
    for reader in (TransformerReader(final), TransformerReader(export(final, tmp_path / "int8"))):
        out = reader.read("Who ruled Normandy first?", [_passage()])
        assert out.spans and out.spans[0].text == CONTEXT[out.spans[0].start : out.spans[0].end]


def _passage():  # type: ignore[no-untyped-def]
    from qa.types import Passage

    return Passage(doc_id="d", chunk_index=0, start=0, end=len(CONTEXT), text=CONTEXT)


def _case(  # type: ignore[no-untyped-def]
    kind: str, texts: list[str], rows: list[list[float]], answers: list[str], title: str = "T"
):
    from qa.eval.squad import Example as EvalExample
    from qa.read.confidence import FEATURES
    from qa.train.calibrate import Case

    ex = EvalExample(id=kind, question="q", answers=answers, title=title)
    x = np.array([r + [0.0] * (len(FEATURES) - len(r)) for r in rows])
    return Case(ex, kind, texts, x.reshape(-1, len(FEATURES)))


def test_case_labels_follow_the_population() -> None:
    """Out of corpus nothing is right, whatever the text; elsewhere F1 >= 0.5 is right."""
    open_ = _case("open_domain", ["Rollo", "Paris"], [[2.0], [1.0]], ["Rollo"])
    ooc = _case("out_of_corpus", ["Rollo"], [[2.0]], ["Rollo"])
    assert open_.labels().tolist() == [1.0, 0.0] and ooc.labels().tolist() == [0.0]
    assert not ooc.answerable and open_.answerable


def test_threshold_refuses_each_population_as_targeted() -> None:
    from qa.train.calibrate import Choice, choose_threshold

    cases = [_case("out_of_corpus", ["x"], [[0.0]], ["x"]) for _ in range(20)]
    choices = [Choice("x", p, 0.0) for p in np.linspace(0.05, 0.6, 20)]
    t = choose_threshold(cases, choices, out_of_corpus=0.95, adversarial=0.0)
    refused = np.mean([c.p < t for c in choices])
    assert refused >= 0.95
    # the lowest such threshold: one step lower refuses too few
    lower = max(c.p for c in choices if c.p < t)
    assert np.mean([c.p < lower for c in choices]) < 0.95


def test_threshold_holds_in_every_article_not_only_pooled() -> None:
    """An easy article does not pay for a hard one: pooled, 0.3 refuses 95 % of these; in the
    hard article it refuses only 90 %, so the threshold rises until that one reaches 95 %."""
    from qa.train.calibrate import Choice, choose_threshold

    easy = [_case("out_of_corpus", ["x"], [[0.0]], ["x"], title="Easy") for _ in range(20)]
    hard = [_case("out_of_corpus", ["x"], [[0.0]], ["x"], title="Hard") for _ in range(20)]
    choices = [Choice("x", 0.01, 0.0)] * 20
    choices += [Choice("x", 0.01, 0.0)] * 18 + [Choice("x", 0.3, 0.0), Choice("x", 0.5, 0.0)]
    cases = easy + hard
    pooled = np.mean([c.p < 0.3 for c in choices])
    assert pooled >= 0.95
    assert choose_threshold(cases, choices, out_of_corpus=0.95, adversarial=0.0) == 0.5


def test_confidence_fit_ranks_and_separates() -> None:
    """On cases where the null margin tells right from wrong, the fitted model picks the right
    meaning out of fold and gives it the higher probability."""
    from qa.train.calibrate import _model, _stack, out_of_fold

    rng = np.random.default_rng(0)
    cases = []
    for k in range(80):
        good, bad = rng.normal(2.0, 0.5), rng.normal(-1.0, 0.5)
        rows = [[bad], [good]] if k % 2 else [[good], [bad]]
        texts = ["Paris", "Rollo"] if k % 2 else ["Rollo", "Paris"]
        cases.append(_case("open_domain", texts, rows, ["Rollo"], title=f"T{k % 4}"))
    choices = out_of_fold(cases, 1.0)
    assert all(ch.text == "Rollo" for ch in choices)
    model = _model(*_stack(cases), 1.0)
    assert model.weights[0] > 0


def test_sources_are_prefixed_and_sampled(squad_files: tuple[Path, Path]) -> None:
    path = squad_files[0]
    everything = load_source(str(path))
    assert {e.title.split("/")[0] for e in everything} == {"squad1"}
    sample = load_source(f"{path}:5", seed=3)
    assert len(sample) == 5 and sample == load_source(f"{path}:5", seed=3)


def test_retrieved_negatives_come_from_other_articles_and_never_answer() -> None:
    ctx = {
        "Vikings": "Rollo was a Viking leader who ruled Normandy from Rouen.",
        "Rivers": "The Seine flows through Rouen and Paris to the English Channel.",
        "Kings": "King Charles III of West Francia granted land to the Northmen.",
    }
    make = squad_example
    ex = [
        make("1", "Vikings", "Who ruled Normandy from Rouen?", ctx["Vikings"], [("Rollo", 0)]),
        make("2", "Rivers", "Which river flows through Rouen?", ctx["Rivers"], [("Seine", 4)]),
        make("3", "Kings", "Who granted land to the Northmen?", ctx["Kings"], [("King", 0)]),
    ]
    negatives = retrieved_negatives(ex, 3, seed=0)
    assert negatives and all(not n.answerable for n in negatives)
    by_q = {e.question: e for e in ex}
    for n in negatives:
        source = by_q[n.question]
        assert n.context != source.context and n.title == source.title
        assert all(a.lower() not in n.context.lower() for a, _ in source.spans)


def test_negative_windows_are_capped(tiny_base: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_base)
    long = squad_example("x", "t", "Who ruled Normandy?", CONTEXT * 20, [("Rollo", 0)])
    all_windows = encode_windows(tok, [long], max_length=64, stride=16)
    capped = encode_windows(tok, [long], max_length=64, stride=16, max_negative_windows=1)
    assert len(all_windows) > 3
    assert [w.start > 0 for w in capped].count(False) == 1
    assert [w for w in capped if w.start] == [w for w in all_windows if w.start]


def test_batches_are_padded_to_a_few_widths() -> None:
    from qa.train.features import Window
    from qa.train.tensors import WIDTH_STEP, collate

    def window(n: int) -> Window:
        return Window(list(range(1, n + 1)), [0] * n, start=0, end=0)

    widths = {collate([window(n), window(3)], pad_id=0)["input_ids"].shape[1] for n in range(1, 97)}
    assert widths == {WIDTH_STEP, 2 * WIDTH_STEP, 3 * WIDTH_STEP}
    batch = collate([window(40), window(3)], pad_id=0)
    assert batch["attention_mask"].sum(dim=1).tolist() == [40, 3]  # padding is masked out
    assert batch["input_ids"][0, :40].tolist() == list(range(1, 41))
    assert (batch["input_ids"][0, 40:] == 0).all()


def test_squad_metrics_use_official_normalisation() -> None:
    assert squad_words("The  U.S. Army!") == "us army"
    assert exact_match("the Normans", "Normans") == 1.0
    assert f1("Charles III of France", "King Charles III") == pytest.approx(
        2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3)
    )
    assert f1("", "") == 1.0 and f1("a", "b c") == 0.0
