"""Hybrid retrieval on the real seeds index: dense + BM25 fused (convex combination or RRF)."""

from __future__ import annotations

import shutil
import threading

import pytest
from support import CHAIRMAN_DOC, CHAIRMAN_Q

from qa.errors import BadInput
from qa.retrieve.lexical import LexicalIndex
from qa.service import QAService
from qa.settings import Settings
from qa.store.base import Store
from qa.types import Document, Filters, Meta


def test_gold_document_ranks_first_with_explained_scores(seeds_service, seeds_text):
    passages = seeds_service.search(CHAIRMAN_Q, top_k=5)
    assert len(passages) == 5
    top = passages[0]
    assert top.doc_id == CHAIRMAN_DOC and "Alan Alborov" in top.text
    assert [p.rank for p in passages] == [1, 2, 3, 4, 5]
    assert passages == sorted(passages, key=lambda p: -p.score)
    assert {"fused", "dense", "dense_rank"} <= set(top.scores)
    assert top.score == top.scores["fused"]
    assert "bm25" in top.scores  # "Tskhinvali" and "chairman" are rare words BM25 catches
    for p in passages:
        assert seeds_text[p.doc_id][p.start : p.end] == p.text
        assert p.title and p.path


def test_rare_name_found_by_bm25(seeds_service):
    passages = seeds_service.search("Botsiyev", top_k=3)
    assert passages[0].doc_id == "004_ac8b6d61d6b7d856"
    assert passages[0].scores["bm25_rank"] == 1


@pytest.mark.parametrize(
    "filters, allowed",
    [
        (Filters(doc_ids=["003_ae8961adcff38b97"]), {"003_ae8961adcff38b97"}),
        (
            {"doc_ids": ["001_bd319fea323e537e", "002_2d6e83c6a40a146a"]},
            {"001_bd319fea323e537e", "002_2d6e83c6a40a146a"},
        ),
    ],
)
def test_filters_restrict_passages(seeds_service, filters, allowed):
    passages = seeds_service.search("South Ossetia treaty with Russia", top_k=10, filters=filters)
    assert passages and {p.doc_id for p in passages} <= allowed


def test_source_and_date_filters(seeds_service):
    docs = {d.id: d for d in seeds_service.documents()}
    dated = [d for d in docs.values() if d.date]
    assert dated, "at least seed 000 states its date"
    d = dated[0]
    passages = seeds_service.search(
        "annexation", top_k=20, filters={"date_from": d.date, "date_to": d.date}
    )
    assert passages and {p.doc_id for p in passages} <= {x.id for x in dated if x.date == d.date}
    sourced = [x for x in docs.values() if x.source]
    assert sourced
    passages = seeds_service.search("treaty", top_k=20, filters={"sources": [sourced[0].source]})
    assert {p.doc_id for p in passages} <= {x.id for x in sourced if x.source == sourced[0].source}
    assert seeds_service.search("treaty", filters={"doc_ids": ["no-such-doc"]}) == []


def test_batch_search_matches_single_search(seeds_service):
    queries = [CHAIRMAN_Q, "Which news agency reported that Putin signed the alliance agreement?"]
    batch = seeds_service.batch_search(queries, top_k=3)
    for q, passages in zip(queries, batch, strict=True):
        single = seeds_service.search(q, top_k=3)
        assert [p.chunk_id for p in passages] == [p.chunk_id for p in single]


def test_fused_scores_follow_the_chosen_fusion(seeds_index_dir, seeds_service):
    """Convex: each list's min-max normalised score times its weight, so a chunk at the top of
    both lists scores 1; RRF: the sum of 1/(k + rank) over the lists that returned it."""
    question = "When was the treaty on alliance and integration signed?"
    for fusion, weight in (("convex", 0.5), ("convex", 1.0), ("rrf", 0.5)):
        svc = QAService(
            Settings(index_dir=seeds_index_dir, fusion=fusion, dense_weight=weight),
            embedder=seeds_service.embedder,
        )
        passages = svc.search(question, top_k=50)
        assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
        for p in passages:
            ranks = [p.scores[f"{n}_rank"] for n in ("dense", "bm25") if f"{n}_rank" in p.scores]
            if fusion == "rrf":
                assert p.score == pytest.approx(sum(1 / (60 + r) for r in ranks))
            else:
                assert 0.0 <= p.score <= 1.0 + 1e-9
        if fusion == "convex" and weight == 1.0:  # dense alone decides the order
            dense = [p.scores["dense"] for p in passages if "dense" in p.scores]
            assert dense == sorted(dense, reverse=True)
            assert passages[0].score == pytest.approx(1.0)
        svc.close()


@pytest.mark.parametrize(
    "changes, message",
    [({"fusion": "sum"}, "fusion must be one of"), ({"dense_weight": 1.5}, "between 0 and 1")],
)
def test_bad_fusion_settings_are_refused(seeds_index_dir, seeds_service, changes, message):
    svc = QAService(Settings(index_dir=seeds_index_dir, **changes), embedder=seeds_service.embedder)
    with pytest.raises(ValueError, match=message):
        svc.search("treaty")
    svc.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"query": ""},
        {"query": "   "},
        {"query": 42},
        {"query": "x", "top_k": 0},
        {"query": "x", "top_k": 10_000},
        {"query": "x", "top_k": "5"},
        {"query": "x", "filters": {"nope": 1}},
        {"query": "x", "filters": {"doc_ids": 3}},
        {"query": "x", "filters": "doc"},
    ],
)
def test_bad_search_input_is_rejected(seeds_service, kwargs):
    with pytest.raises(BadInput):
        seeds_service.search(**kwargs)


def test_large_bm25_index_is_rebuilt_off_the_search_path(seeds_index_dir, seeds_service, tmp_path):
    """Past ``background_rebuild_chunks`` a write does not make searches wait for BM25: they use
    the previous index until a thread has built the next one, then the new words are found."""
    shutil.copytree(seeds_index_dir, tmp_path / "idx")
    svc = QAService(Settings(index_dir=tmp_path / "idx"), embedder=seeds_service.embedder)
    retriever = svc.retriever
    retriever.upkeep.background_rebuild_chunks = 1  # every index counts as large
    retriever.sync()  # the first build has nothing older to serve, so it is synchronous
    before = retriever.lexical
    assert before.size > 1

    gate = threading.Event()
    real_build = LexicalIndex.build

    def gated_build(self: LexicalIndex, store: Store) -> None:
        assert gate.wait(60)  # hold the rebuild until the stale search has been checked
        real_build(self, store)

    text = "Zorbulan quintessa was elected mayor of Tskhinvali in 2031."
    svc.add_documents([Document("zz", text, Meta("Zorbulan"))])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LexicalIndex, "build", gated_build)
        stale = svc.search("Zorbulan quintessa", top_k=3)
        assert retriever.lexical is before  # answered on the previous BM25 index ...
        assert not any(p.doc_id == "zz" and "bm25" in p.scores for p in stale)
        assert stale[0].doc_id == "zz"  # ... while dense search already finds the new chunk
        gate.set()
        assert retriever.wait_for_rebuild(60)
    assert retriever.lexical is not before
    top = svc.search("Zorbulan quintessa", top_k=3)[0]
    assert top.doc_id == "zz" and top.scores["bm25_rank"] == 1
    # a delete is picked up the same way; the deleted chunk never comes back meanwhile
    svc.delete("zz")
    assert all(p.doc_id != "zz" for p in svc.search("Zorbulan quintessa", top_k=3))
    assert retriever.wait_for_rebuild(60)
    svc.close()


def test_a_replaced_document_is_cited_with_its_new_title(tmp_path):
    """Document rows are cached per store generation: a write must not leave the old title."""
    text = "Tskhinvali is the capital of South Ossetia. Its parliament met on Monday."
    svc = QAService(Settings(index_dir=tmp_path / "index"))
    svc.add_documents([Document("d", text, Meta("Old title"))])
    question = "What is the capital of South Ossetia?"
    assert svc.search(question)[0].title == "Old title"
    svc.add_documents([Document("d", text + " It adjourned.", Meta("New title"))])
    assert svc.search(question)[0].title == "New title"
    svc.close()


def test_searches_in_threads_agree_with_one_by_one(seeds_service):
    """Each server thread searches with its own single-threaded FAISS (OpenMP) setting."""
    questions = [CHAIRMAN_Q, "Botsiyev", "South Ossetia treaty with Russia", "GDP"]
    alone = [[p.chunk_id for p in seeds_service.search(q, top_k=5)] for q in questions]
    found: dict[int, list[str]] = {}

    def run(i: int) -> None:
        found[i] = [p.chunk_id for p in seeds_service.search(questions[i], top_k=5)]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [found[i] for i in range(len(questions))] == alone
