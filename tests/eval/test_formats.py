"""Each evaluation input format, read into typed records, and the errors bad files give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import ROOT, SEEDS_DEV

from qa.eval.formats import BeirData, load_dataset, read_article_selection, read_beir, read_jsonl
from qa.eval.squad import DataError, read_squad, slug

SAMPLE = ROOT / "tests" / "data" / "squad2-sample.json"


def test_squad_v2_paragraphs_become_documents_and_impossible_questions_have_no_answers():
    data = read_squad(SAMPLE)
    assert data.kind == "squad" and data.version == "v2.0"
    assert [d.id for d in data.documents] == [
        "normans-p0",
        "normans-p1",
        "jacksonville-florida-p0",
        "jacksonville-florida-p1",
    ]
    assert data.documents[2].title == "Jacksonville, Florida"
    assert len(data.examples) == 19
    assert sum(not e.answerable for e in data.examples) == 8
    first = data.examples[0]
    assert first.question == "In what country is Normandy located?"
    assert first.answers == ["France"] * 4 and first.gold_docs == ["normans-p0"]
    assert first.context == data.documents[0].text and first.title == "Normans"
    for ex in data.examples:  # every gold answer is a span of its own paragraph
        assert all(a in ex.context for a in ex.answers)
        assert [t for t, _ in ex.spans] == ex.answers  # where the file says it starts
    # the example keeps the title as SQuAD writes it (splits name articles so), the document
    # shows it with spaces
    assert {e.title for e in data.examples} == {"Normans", "Jacksonville,_Florida"}


def test_an_answer_at_a_wrong_offset_is_scored_but_not_learnt_from(tmp_path: Path):
    squad = {"version": "v2.0", "data": [{"title": "K", "paragraphs": [{
        "context": "Mira Kessel founded it in 1911.",
        "qas": [{"id": "q", "question": "When?", "is_impossible": False, "answers": [
            {"text": "1911", "answer_start": 3}, {"text": "in 1911", "answer_start": 23}]}],
    }]}]}  # fmt: skip
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad))
    (ex,) = read_squad(path).examples
    assert ex.answers == ["1911", "in 1911"] and ex.spans == [("in 1911", 23)]


def test_squad_v1_has_no_is_impossible(tmp_path: Path):
    v1 = {
        "version": "1.1",
        "data": [
            {
                "title": "Kessel",
                "paragraphs": [
                    {
                        "context": "Mira Kessel founded the Zorblatt Institute in 1911.",
                        "qas": [
                            {
                                "id": "k1",
                                "question": "Who founded it?",
                                "answers": [{"text": "Mira Kessel", "answer_start": 0}],
                            }
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(v1))
    data = load_dataset(path)
    assert data.kind == "squad" and data.examples[0].answers == ["Mira Kessel"]
    assert data.examples[0].gold_docs == ["kessel-p0"]


def test_article_selection_matches_titles_either_way(tmp_path: Path):
    titles = tmp_path / "titles.json"
    titles.write_text(json.dumps(["Jacksonville, Florida"]))
    data = read_squad(SAMPLE, read_article_selection(str(titles)))
    assert {d.title for d in data.documents} == {"Jacksonville, Florida"}
    assert len(data.examples) == 10

    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["Normans"], "heldout": ["Jacksonville,_Florida"]}))
    assert read_article_selection(str(split)) == {"Jacksonville,_Florida"}
    assert read_article_selection(f"{split}:train") == {"Normans"}
    with pytest.raises(DataError, match="no key 'test'"):
        read_article_selection(f"{split}:test")
    titles.write_text(json.dumps(["Atlantis"]))
    with pytest.raises(DataError, match="none of the 1 selected articles"):
        read_squad(SAMPLE, read_article_selection(str(titles)))
    titles.write_text(json.dumps({"a": 1}))
    with pytest.raises(DataError, match="name the list"):
        read_article_selection(str(titles))


def test_bad_squad_files_name_the_file_and_the_problem(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match=r"bad\.json: not valid JSON"):
        load_dataset(bad)
    bad.write_text(json.dumps({"version": "v2.0"}))
    with pytest.raises(DataError, match="not SQuAD JSON"):
        load_dataset(bad)
    bad.write_text(
        json.dumps(
            {
                "data": [
                    {
                        "title": "T",
                        "paragraphs": [{"context": "c", "qas": [{"id": "1", "answers": []}]}],
                    }
                ]
            }
        )
    )
    with pytest.raises(DataError, match=r"qas\[0\]: a question needs a 'question'"):
        load_dataset(bad)
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "missing.json")
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="unknown format"):
        load_dataset(tmp_path / "data.csv")


def test_our_jsonl_seeds_dev():
    data = read_jsonl(SEEDS_DEV)
    assert data.kind == "jsonl" and not data.documents
    assert len(data.examples) == 24
    unanswerable = [e for e in data.examples if not e.answerable]
    assert unanswerable and all(e.id.startswith("x") and not e.gold_docs for e in unanswerable)
    d02 = next(e for e in data.examples if e.id == "d02")
    assert d02.answers == ["the USSR", "USSR"] and d02.gold_docs == ["000_5f0f8e843e26db9e"]


def test_bad_jsonl_lines_are_reported_with_their_number(tmp_path: Path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "Q?", "answers": [], "docs": []}\n\n{oops\n')
    with pytest.raises(DataError, match=r"q.jsonl:3: not valid JSON"):
        read_jsonl(path)
    path.write_text('{"id": "a", "question": "Q?", "answers": "France"}\n')
    with pytest.raises(DataError, match=r"q.jsonl:1: 'answers' must be a list"):
        read_jsonl(path)
    path.write_text('{"id": "a", "question": "Q?"}\n{"id": "a", "question": "R?"}\n')
    with pytest.raises(DataError, match="duplicate id 'a'"):
        read_jsonl(path)


def _beir(root: Path) -> Path:
    """A tiny BEIR folder (synthetic: no BEIR data is stored in the project)."""
    (root / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": "d1", "title": "Zorblatt", "text": "The Zorblatt Institute studies moss."},
        {"_id": "d2", "title": "", "text": "Kessel founded it in 1911."},
        {"_id": "d3", "title": "Other", "text": "Unrelated text about rivers."},
    ]
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    queries = [
        {"_id": "1", "text": "What does Zorblatt study?"},
        {"_id": "2", "text": "Who founded Zorblatt?"},
        {"_id": "3", "text": "A query without judgments"},
    ]
    (root / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n1\td1\t1\n2\td2\t2\n2\td1\t0\n"
    )
    return root


def test_beir_folder(tmp_path: Path):
    data = load_dataset(_beir(tmp_path / "beir"))
    assert isinstance(data, BeirData) and data.split == "test"
    assert [d.id for d in data.documents] == ["d1", "d2", "d3"]
    assert data.documents[0].text == "Zorblatt\n\nThe Zorblatt Institute studies moss."
    assert data.documents[1].text == "Kessel founded it in 1911."  # no title, no prefix
    assert data.queries == {"1": "What does Zorblatt study?", "2": "Who founded Zorblatt?"}
    assert data.qrels == {"1": {"d1": 1}, "2": {"d2": 2}}  # score 0 is not relevant


def test_bad_beir_folders(tmp_path: Path):
    root = _beir(tmp_path / "beir")
    with pytest.raises(DataError, match=r"missing qrels/dev.tsv"):
        read_beir(root, "dev")
    (root / "qrels" / "test.tsv").write_text("1\td1\n")
    with pytest.raises(DataError, match=r"test\.tsv:1: expected"):
        read_beir(root)
    (root / "qrels" / "test.tsv").write_text("9\td1\t1\n")
    with pytest.raises(DataError, match=r"not in queries\.jsonl"):
        read_beir(root)
    with pytest.raises(DataError, match="not a BEIR folder"):
        load_dataset(tmp_path)


def test_slug():
    assert slug("Sky_(United_Kingdom)") == "sky-united-kingdom"
    assert slug("Jacksonville,_Florida") == "jacksonville-florida"
    assert slug("???") == "article"
