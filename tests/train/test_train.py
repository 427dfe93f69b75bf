"""Training pipeline: split by article, window labels, a seconds-long training run on a tiny
model that resumes exactly, calibration fitting, and the SQuAD metrics."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from support import save_tiny_bert

from qa.readers.transformer import TransformerReader
from qa.train.calibrate import best_threshold, isotonic
from qa.train.cli import main
from qa.train.data import Example, Split, load_squad, make_split, titles, training_examples
from qa.train.evaluate import ece, exact_match, f1, normalize
from qa.train.features import encode_windows

CONTEXT = (
    "Rollo was a Viking leader who became the first ruler of Normandy, a region in France. "
    "He agreed to swear fealty to King Charles III in 911 after the siege of Chartres."
)


def squad(articles: dict[str, int], *, impossible: bool = False) -> dict:
    data = []
    for title, n in articles.items():
        qas = []
        for k in range(n):
            q = {"id": f"{title}-{k}", "question": f"Who ruled Normandy first? ({title} {k})"}
            if impossible:
                q.update(
                    question=f"Who ruled Iceland first? ({title} {k})",
                    is_impossible=True,
                    answers=[],
                )
            else:
                q["answers"] = [{"text": "Rollo", "answer_start": 0}]
            qas.append(q)
        if not impossible:
            qas.append(
                {
                    "id": f"{title}-year",
                    "question": f"When did Rollo swear fealty? ({title})",
                    "answers": [{"text": "911", "answer_start": CONTEXT.index("911")}],
                }
            )
            qas.append(
                {
                    "id": f"{title}-bad",
                    "question": "Broken offset?",
                    "answers": [{"text": "Rollo", "answer_start": 5}],
                }
            )
        data.append({"title": title, "paragraphs": [{"context": CONTEXT, "qas": qas}]})
    return {"version": "v2.0" if impossible else "1.1", "data": data}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # like MiniLM: an encoder without a QA head
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-base"), qa_head=False)


@pytest.fixture
def squad_files(tmp_path: Path) -> tuple[Path, Path]:
    titles_ = {f"Article_{k}": 3 for k in range(6)}
    answerable = tmp_path / "squad1.json"
    answerable.write_text(json.dumps(squad(titles_)))
    unanswerable = tmp_path / "squad2.json"
    unanswerable.write_text(json.dumps(squad({t: 2 for t in list(titles_)[:4]}, impossible=True)))
    return answerable, unanswerable


def test_load_squad_drops_answers_with_wrong_offsets(squad_files: tuple[Path, Path]) -> None:
    examples = load_squad(squad_files[0])
    assert len(examples) == 6 * 4  # the "Broken offset?" question of each article is dropped
    assert all(e.context[s : s + len(t)] == t for e in examples for t, s in e.answers)
    assert all(e.is_impossible for e in load_squad(squad_files[1]))


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
    assert any(e.is_impossible for e in train)


def test_window_labels_point_at_the_answer(tiny_base: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    long_context = ("Filler sentence about nothing in particular. " * 20) + CONTEXT
    answer_start = long_context.index("911")
    ex = Example("q", "t", "When did Rollo swear fealty?", long_context, [("911", answer_start)])
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
    common = [
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

    reader = TransformerReader(final)
    out = reader.read("Who ruled Normandy first?", [_passage()])
    assert out.spans and out.spans[0].text == CONTEXT[out.spans[0].start : out.spans[0].end]


def _passage():  # type: ignore[no-untyped-def]
    from qa.types import Passage

    return Passage(doc_id="d", chunk_index=0, start=0, end=len(CONTEXT), text=CONTEXT)


def test_isotonic_is_monotone_and_fits() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    y = (rng.random(500) < 1 / (1 + np.exp(-2 * x))).astype(float)
    kx, ky = isotonic(x, y)
    assert kx == sorted(kx) and len(set(kx)) == len(kx)
    assert all(b >= a for a, b in itertools.pairwise(ky))
    fitted = np.interp(x, kx, ky)
    assert ece(fitted, y) < 0.05
    assert ky[0] < 0.2 and ky[-1] > 0.8


def test_best_threshold_balances_answers_and_abstentions() -> None:
    scores = np.array([0.9, 0.8, 0.3, 0.2, 0.1])
    answerable = np.array([True, True, False, True, False])
    f1s = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    assert best_threshold(scores, answerable, f1s) == 0.8


def test_squad_metrics_use_official_normalisation() -> None:
    assert normalize("The  U.S. Army!") == "us army"
    assert exact_match("the Normans", "Normans") == 1.0
    assert f1("Charles III of France", "King Charles III") == pytest.approx(
        2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3)
    )
    assert f1("", "") == 1.0 and f1("a", "b c") == 0.0
