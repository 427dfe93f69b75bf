"""``qa eval`` end to end with the real library and models: the SQuAD sample in gold-passage and
open-domain mode, the seeds jsonl, a synthetic BEIR folder, and a running ``qa serve``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import ROOT, SEEDS, SEEDS_DEV, TEST_DATA

from qa.cli import main
from qa.eval.runner import sample
from qa.eval.squad import read_squad
from qa.service import QAService
from qa.settings import Settings
from qa.web.process import ServeProcess, free_port

SAMPLE = TEST_DATA / "squad2-sample.json"
TOKEN = "eval-test-token"
#: the seeds figures as recorded with the shipped models (``qa eval tests/data/seeds_dev.jsonl``)
SEEDS_RECORDED = json.loads((ROOT / "bench" / "results" / "eval-seeds_dev.json").read_text())
#: the news near-miss set as recorded (``qa eval tests/data/news_nearmiss.jsonl``)
NEWS_RECORDED = json.loads((ROOT / "bench" / "results" / "eval-news_nearmiss.json").read_text())
SEEDS_FIGURES = (
    "exact_match", "f1", "has_answer_exact", "has_answer_f1", "no_answer_accuracy",
    "answered_rate", "recall@1", "recall@5", "recall@20", "mrr@10", "gold_doc_first",
)  # fmt: skip


def run_eval(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def eval_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = run_eval(capsys, *args, "--json-only", "--no-progress")
    assert code == 0, err
    summary: dict[str, Any] = json.loads(out)  # stdout holds the one JSON object and nothing else
    return summary


def check_consistent(s: dict[str, Any]) -> None:
    """What holds for any reader: bounds, and a best threshold at least as good as the default
    (the default threshold is one of the thresholds the search tries)."""
    assert 0 <= s["exact_match"] <= s["f1"] <= 100
    assert s["best_threshold_f1"] >= s["f1"] and s["best_threshold_exact"] >= s["exact_match"]
    assert s["ece"] is None or 0 <= s["ece"] <= 1
    assert s["latency_ms"]["p50"] > 0 and s["latency_ms"]["p50"] <= s["latency_ms"]["p99"]


def assert_figures(s: dict[str, Any], expected: dict[str, float]) -> None:
    """Each figure as recorded, give or take one question: the int8 kernels onnxruntime picks
    differ a little between CPUs, and a question near the threshold may flip. A real loss of
    quality moves several."""
    c = s["counts"]
    one = {
        "exact_match": 100 / c["questions"],
        "f1": 100 / c["questions"],
        "answered_rate": 100 / c["questions"],
        "has_answer_exact": 100 / max(c["answerable"], 1),
        "has_answer_f1": 100 / max(c["answerable"], 1),
        "no_answer_accuracy": 100 / max(c["unanswerable"], 1),
        "gold_doc_first": 1,
    }
    for key, value in expected.items():
        tolerance = one.get(key, 1 / max(c["ranked"], 1))  # the ranking figures: one question
        assert s[key] == pytest.approx(value, abs=tolerance + 1e-9), (key, s[key], value)


def read_predictions(report: Path) -> list[dict[str, Any]]:
    lines = (report / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_gold_passage_reads_each_questions_own_paragraph(capsys, tmp_path: Path):
    report = tmp_path / "report"
    s = eval_json(capsys, "eval", str(SAMPLE), "--gold-passage", "--report", str(report))
    assert s["mode"] == "gold-passage" and s["format"] == "squad v2.0"
    assert s["counts"]["questions"] == 19 and s["counts"]["unanswerable"] == 8
    check_consistent(s)
    assert s["recall@5"] is None and s["ndcg@10"] is None  # no retrieval in this mode
    assert set(s["latency_ms_by_stage"]) >= {"read", "total"}
    # the reader alone, on the paragraph that holds the answer: the shipped models' figures
    assert_figures(
        s, {"exact_match": 63.16, "f1": 66.67, "has_answer_f1": 78.79, "no_answer_accuracy": 50.0}
    )
    contexts = {e.id: e.context for e in read_squad(SAMPLE).examples}
    preds = read_predictions(report)
    assert len(preds) == 19
    for p in preds:  # extractive: every answer given is copied from its paragraph
        assert p["prediction"] == "" or p["prediction"] in contexts[p["id"]]
    html = (report / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 3 and "worst misses" in html
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    assert summary["summary"]["f1"] == s["f1"]


def test_open_domain_over_the_whole_collection_with_a_seeded_sample(capsys, tmp_path: Path):
    index = tmp_path / "index"
    args = ("eval", str(SAMPLE), "--index", str(index), "--limit", "12", "--seed", "7")
    report = tmp_path / "report"
    s = eval_json(capsys, *args, "--report", str(report))
    assert s["mode"] == "open-domain" and s["counts"]["questions"] == 12
    check_consistent(s)
    # 4 short paragraphs: the top 20 passages are all of them, and an answerable question's own
    # paragraph always holds its answer
    assert s["recall@20"] == 1.0
    assert_figures(
        s,
        {"exact_match": 66.67, "f1": 72.22, "recall@1": 0.8571, "recall@5": 1.0, "mrr@10": 0.9286},
    )
    assert {"retrieve", "read", "total"} <= set(s["latency_ms_by_stage"])
    expected = [e.id for e in sample(read_squad(SAMPLE).examples, 12, 7)]
    assert [p["id"] for p in read_predictions(report)] == expected
    # --index keeps the paragraphs as documents "<article>-p<N>"; a second run reuses them
    svc = QAService(Settings(index_dir=index))
    assert {d.id for d in svc.documents()} == {
        "normans-p0",
        "normans-p1",
        "jacksonville-florida-p0",
        "jacksonville-florida-p1",
    }
    svc.close()
    again = eval_json(capsys, *args)
    assert (again["exact_match"], again["recall@5"]) == (s["exact_match"], s["recall@5"])


@pytest.fixture(scope="module")
def seeds_copy(seeds_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("eval-seeds") / "index"
    shutil.copytree(seeds_index_dir, directory)
    return directory


@pytest.fixture(scope="module")
def seeds_in_process(seeds_copy: Path) -> dict[str, Any]:
    """The seeds jsonl scored in-process (shared by the HTTP comparison below)."""
    report = seeds_copy.parent / "report"
    code = main(
        [
            "--index-dir",
            str(seeds_copy),
            "eval",
            str(SEEDS_DEV),
            "--json-only",
            "--no-progress",
            "--report",
            str(report),
        ]
    )
    assert code == 0
    summary: dict[str, Any] = json.loads((report / "summary.json").read_text())["summary"]
    return summary


def test_out_of_corpus_asks_one_articles_questions_of_the_others(capsys, tmp_path: Path):
    """Normans' answerable questions asked of an index holding only Jacksonville's paragraphs:
    every one is unanswerable there, and its passages come from the other article."""
    articles = tmp_path / "articles.json"
    articles.write_text(json.dumps(["Normans"]))
    report = tmp_path / "report"
    s = eval_json(
        capsys,
        "eval",
        str(SAMPLE),
        "--articles",
        str(articles),
        "--out-of-corpus",
        "--report",
        str(report),
    )
    normans = [e for e in read_squad(SAMPLE, {"Normans"}).examples if e.answerable]
    assert s["counts"]["questions"] == len(normans) == s["counts"]["unanswerable"]
    assert s["no_answer_accuracy"] is not None
    for p in read_predictions(report):
        assert p["id"].startswith("ooc-")
        assert all(q["doc_id"].startswith("jacksonville") for q in p["passages"])
    code, _, err = run_eval(capsys, "eval", str(SAMPLE), "--out-of-corpus", "--no-progress")
    assert code == 1 and "--out-of-corpus needs SQuAD data and --articles" in err


def test_seeds_jsonl_against_the_existing_index(seeds_in_process: dict[str, Any]):
    s = seeds_in_process
    assert s["format"] == "jsonl" and s["counts"] == {
        "questions": 24,
        "answerable": 20,
        "unanswerable": 4,
        "ranked": 20,
        "documents": None,
    }
    check_consistent(s)
    assert s["gold_doc_first_of"] == 20
    assert s["counts"] == SEEDS_RECORDED["counts"]
    assert_figures(s, {key: SEEDS_RECORDED[key] for key in SEEDS_FIGURES})


def test_news_near_miss_set_as_recorded(capsys, seeds_copy: Path, tmp_path: Path):
    """The hand-written news questions over the seeds: about half of them are ones the articles
    come close to but do not answer, and the figures (refusals, F1, calibration) are the model
    card's, give or take one question."""
    s = eval_json(
        capsys, "--index-dir", str(seeds_copy), "eval", str(TEST_DATA / "news_nearmiss.jsonl"),
        "--report", str(tmp_path / "report"),
    )  # fmt: skip
    assert s["counts"] == NEWS_RECORDED["counts"]
    assert s["counts"]["answerable"] >= 30 and s["counts"]["unanswerable"] >= 30
    check_consistent(s)
    assert_figures(s, {key: NEWS_RECORDED[key] for key in SEEDS_FIGURES})
    assert s["ece"] == pytest.approx(NEWS_RECORDED["ece"], abs=0.03)


def test_summary_table_on_stdout(capsys, seeds_copy: Path, tmp_path: Path):
    code, out, _ = run_eval(
        capsys,
        "--index-dir",
        str(seeds_copy),
        "eval",
        str(SEEDS_DEV),
        "--limit",
        "5",
        "--no-progress",
        "--report",
        str(tmp_path / "r"),
    )
    assert code == 0
    assert "exact match / F1" in out and "recall@1 / @5 / @20" in out
    assert "5 questions" in out and str(tmp_path / "r" / "report.html") in out


def _beir(root: Path) -> Path:
    """A synthetic BEIR folder (BEIR data itself is never copied into the project)."""
    (root / "qrels").mkdir(parents=True)
    corpus = {
        "d1": ("Zorblatt Institute", "The Zorblatt Institute studies moss in cold forests."),
        "d2": ("", "Mira Kessel opened a bakery in Tskhinvali in 1911."),
        "d3": ("Rivers", "The Danube flows through ten countries before the Black Sea."),
        "d4": ("Volcanoes", "Mount Etna on Sicily erupts more often than any other."),
    }
    (root / "corpus.jsonl").write_text(
        "".join(
            json.dumps({"_id": k, "title": t, "text": x}) + "\n" for k, (t, x) in corpus.items()
        )
    )
    queries = {
        "q1": "What does the Zorblatt Institute study?",
        "q2": "Who opened a bakery in 1911?",
        "q3": "Which river flows through ten countries?",
        "q4": "not judged",
    }
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items())
    )
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\nq3\td4\t0\n"
    )
    return root


def test_beir_retrieval_only(capsys, tmp_path: Path):
    s = eval_json(capsys, "eval", str(_beir(tmp_path / "beir")))
    assert s["mode"] == "retrieval" and s["counts"]["questions"] == 3
    assert s["f1"] is None and s["exact_match"] is None
    # each query names its document's rare words: found first, and every document is retrieved
    assert s["ndcg@10"] == 1.0 and s["recall@100"] == 1.0 and s["mrr@10"] == 1.0


def test_errors_exit_1_with_a_message(capsys, tmp_path: Path):
    code, out, err = run_eval(capsys, "eval", str(tmp_path / "missing.json"))
    assert code == 1 and "missing.json: no such file" in err and not out
    code, _, err = run_eval(capsys, "eval", str(SEEDS_DEV), "--gold-passage", "--no-progress")
    assert code == 1 and "--gold-passage needs SQuAD data" in err
    port = free_port()  # nothing listens there
    code, _, err = run_eval(capsys, "eval", str(SEEDS_DEV), "--url", f"http://127.0.0.1:{port}")
    assert code == 1 and f"cannot reach http://127.0.0.1:{port}" in err
    code, _, err = run_eval(capsys, "eval", str(SEEDS_DEV), "--url", "localhost:8000")
    assert code == 1 and "--url must look like" in err


# -- against a running service -------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(seeds_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``qa serve`` on a copy of the seeds index, with a token so the SQuAD paragraphs can be
    added through the API."""
    index = tmp_path_factory.mktemp("eval-served") / "index"
    shutil.copytree(seeds_index_dir, index)
    log = tmp_path_factory.mktemp("eval-served-log") / "serve.log"
    env = {"QA_API_TOKEN": TOKEN, "QA_CORPUS": str(SEEDS)}
    with ServeProcess(index_dir=index, env=env, cwd=ROOT, log_path=log) as served:
        served.wait_until_healthy(timeout=240)
        yield served.url


@pytest.mark.slow
def test_over_http_gives_what_the_library_gives(
    capsys, server: str, seeds_in_process: dict[str, Any]
):
    s = eval_json(capsys, "eval", str(SEEDS_DEV), "--url", server)
    assert s["target"] == server and s["counts"] == seeds_in_process["counts"]
    for key in ("exact_match", "f1", "no_answer_accuracy", "recall@5", "mrr@10", "gold_doc_first"):
        assert s[key] == seeds_in_process[key], key
    assert "http" in s["latency_ms_by_stage"]
    # the service applies its threshold itself: the best one is searched at or above it only
    assert s["threshold_search"] != "full"


@pytest.mark.slow
def test_over_http_squad_adds_the_paragraphs_with_the_token(capsys, server: str):
    code, _, err = run_eval(
        capsys, "eval", str(SAMPLE), "--url", server, "--no-progress", "--json-only"
    )
    assert code == 1 and "lacks 4 of the 4 documents" in err
    s = eval_json(
        capsys, "eval", str(SAMPLE), "--url", server, "--token", TOKEN, "--batch-size", "8"
    )
    assert s["counts"]["questions"] == 19 and s["recall@5"] is not None
    check_consistent(s)
