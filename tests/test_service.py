"""The library front door end to end, on the real seeds and the real models."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from support import CHAIRMAN, CHAIRMAN_DOC, CHAIRMAN_Q, SEEDS, SEEDS_DEV

from qa.errors import BadInput, DocumentNotFound, IndexVersionMismatch, ModelMismatch, TooLarge
from qa.index.embed import Embedder
from qa.service import QAService
from qa.settings import Settings
from qa.text.normalize import normalize_answer
from qa.types import Document, Meta, Passage


class CountingEmbedder(Embedder):
    """The real embedder, remembering what it was asked to embed."""

    def __init__(self, model: str) -> None:
        super().__init__(model)
        self.embedded: list[str] = []

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.embedded += texts
        return super().embed(texts, progress)


@pytest.fixture
def writable(seeds_index_dir: Path, tmp_path: Path) -> QAService:
    """A private copy of the seeds index to write to."""
    directory = tmp_path / "index"
    shutil.copytree(seeds_index_dir, directory)
    settings = Settings(index_dir=directory, corpus=[SEEDS])
    return QAService(settings, embedder=CountingEmbedder(settings.embed_model))


def test_answer_is_cited_with_exact_offsets(seeds_service, seeds_text):
    result = seeds_service.ask(CHAIRMAN_Q)
    answer = result.answer
    assert answer is not None and answer.text == CHAIRMAN
    assert answer.doc_id == CHAIRMAN_DOC
    assert seeds_text[CHAIRMAN_DOC][answer.start : answer.end] == CHAIRMAN
    assert answer.citations[0].doc_id == CHAIRMAN_DOC
    s, e = answer.sentence_start, answer.sentence_end
    assert seeds_text[CHAIRMAN_DOC][s:e] == answer.sentence
    assert s <= answer.start and answer.end <= e
    assert 0.0 <= answer.score <= 1.0 and answer.score >= result.threshold
    assert result.answers[0] == answer
    assert {"retrieve", "read", "total"} <= set(result.timings_ms)
    json.dumps(result.to_dict())  # serializable as is


def test_every_offset_slices_its_text_on_dev_questions(seeds_service, seeds_text):
    lines = SEEDS_DEV.read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines]
    for result in seeds_service.ask_batch(questions):
        for p in result.passages:
            assert seeds_text[p.doc_id][p.start : p.end] == p.text
        for a in result.answers:
            assert seeds_text[a.doc_id][a.start : a.end] == a.text
            assert seeds_text[a.doc_id][a.sentence_start : a.sentence_end] == a.sentence
            for c in a.citations:  # each cited span states the answer shown (qa.cite.answers)
                cited = seeds_text[c.doc_id][c.start : c.end]
                words, answer_words = (
                    normalize_answer(cited).split(),
                    normalize_answer(a.text).split(),
                )
                assert (
                    " ".join(words) in " ".join(answer_words)
                    or " ".join(answer_words) in " ".join(words)
                    or (c.doc_id == a.doc_id and c.start < a.end and a.start < c.end)
                )
        if result.answer is None:
            assert result.answers == [] and result.passages


def test_out_of_corpus_question_gets_no_answer(seeds_service):
    result = seeds_service.ask("Who painted the Mona Lisa?")
    assert result.answer is None and result.answers == []
    assert result.passages  # the closest passages are still shown


def test_read_over_given_passage(seeds_service, seeds_text):
    text = seeds_text[CHAIRMAN_DOC]
    passage = Passage(doc_id=CHAIRMAN_DOC, chunk_index=0, start=0, end=len(text), text=text)
    result = seeds_service.read(CHAIRMAN_Q, [passage])
    assert result.answer is not None and result.answer.text == CHAIRMAN
    # handed in without a rank, a passage takes its place in the list: the reader scores it
    # exactly as the same passage ranked first
    assert result.passages[0].rank == 1
    ranked = seeds_service.read(CHAIRMAN_Q, [replace(passage, rank=1)])
    assert ranked.answer is not None and ranked.answer.score == result.answer.score


def test_adding_documents_does_not_reembed_the_old_ones(writable: QAService):
    embedder = writable.embedder
    assert isinstance(embedder, CountingEmbedder)
    report = writable.index()  # the seeds again: nothing changed, nothing embedded
    assert len(report.unchanged) == 5 and report.chunks == 0 and embedder.embedded == []
    text = (
        "The Zorblatt Institute was founded in 1911 by Mira Kessel. "
        "Mira Kessel directed the institute until 1950."
    )
    report = writable.add_documents([Document("zorblatt", text, Meta("Zorblatt"))])
    assert report.added == ["zorblatt"] and embedder.embedded == [text]
    assert writable.store.count() == (6, writable.store.count()[1])
    result = writable.ask("Who founded the Zorblatt Institute?")
    assert result.passages[0].doc_id == "zorblatt"
    # replacing a document re-embeds only that document
    embedder.embedded.clear()
    report = writable.add_documents([Document("zorblatt", text + " It closed in 1999.")])
    assert report.replaced == ["zorblatt"] and len(embedder.embedded) == 1


def test_delete_removes_every_chunk(writable: QAService):
    before_docs, before_chunks = writable.store.count()
    info = writable.document(CHAIRMAN_DOC)[1]
    assert writable.delete(CHAIRMAN_DOC) == info.chunks
    assert writable.store.count() == (before_docs - 1, before_chunks - info.chunks)
    assert all(p.doc_id != CHAIRMAN_DOC for p in writable.search(CHAIRMAN_Q, top_k=20))
    with pytest.raises(DocumentNotFound):
        writable.delete(CHAIRMAN_DOC)
    with pytest.raises(DocumentNotFound):
        writable.document(CHAIRMAN_DOC)
    # another process (a new service on the same directory) sees the same state
    other = QAService(writable.settings)
    assert other.store.count() == writable.store.count()


def test_writes_are_seen_by_other_open_services(writable: QAService):
    reader_side = QAService(writable.settings)
    assert len(reader_side.search("Zorblatt Institute", top_k=3)) == 3
    writable.add_documents([Document("zorblatt", "The Zorblatt Institute is in Graz.")])
    assert reader_side.search("Zorblatt Institute", top_k=1)[0].doc_id == "zorblatt"


def test_unreadable_files_are_reported_and_skipped(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Kessel founded the Zorblatt Institute in 1911.\n")
    (corpus / "empty.txt").write_text("   \n")
    (corpus / "binary.txt").write_bytes(b"\xff\xfe\x00\x81" * 50)
    svc = QAService(Settings(index_dir=tmp_path / "index", corpus=[corpus]))
    report = svc.index()
    assert report.added == ["good"]
    assert {Path(p.path).name for p in report.problems} == {"empty.txt", "binary.txt"}


def test_wrong_index_version_is_a_clear_error(seeds_index_dir: Path, tmp_path: Path):
    directory = tmp_path / "index"
    shutil.copytree(seeds_index_dir, directory)
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"format_version": 0}))
    with pytest.raises(IndexVersionMismatch, match="rebuild"):
        QAService(Settings(index_dir=directory)).search("x")


def test_rebuild_swaps_in_a_fresh_index(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Mira Kessel founded the Zorblatt Institute in 1911.\n")
    svc = QAService(Settings(index_dir=tmp_path / "index", corpus=[corpus]))
    svc.index()
    (corpus / "a.txt").unlink()
    (corpus / "b.txt").write_text("The Quorn river flows through Eastbridge.\n")
    report = svc.rebuild()
    assert report.added == ["b"]
    assert [d.id for d in svc.documents()] == ["b"]
    assert not (tmp_path / "index.building").exists() and not (tmp_path / "index.old").exists()


@pytest.mark.parametrize(
    "question, error",
    [
        ("", BadInput),
        ("   \n", BadInput),
        (None, BadInput),
        (["q"], BadInput),
        ("x" * 5000, TooLarge),
    ],
)
def test_bad_questions_are_rejected(seeds_service, question, error):
    with pytest.raises(error):
        seeds_service.ask(question)


def test_bad_batches_are_rejected(seeds_service):
    with pytest.raises(BadInput):
        seeds_service.ask_batch("not a list")  # type: ignore[arg-type]
    with pytest.raises(TooLarge):
        seeds_service.ask_batch(["q"] * (seeds_service.settings.max_batch + 1))
    assert seeds_service.ask_batch([]) == []


def test_health_reports_counts_and_models(seeds_service):
    health = seeds_service.health()
    assert health["documents"] == 5 and health["chunks"] > 5
    assert health["reader"] and health["embed_model"]


def test_an_index_built_by_one_encoder_variant_refuses_another(tmp_path: Path):
    """torch fp32 and ONNX int8 vectors of the same model differ slightly: never mixed."""
    doc = Document("d", "Tskhinvali is the capital of South Ossetia. Its parliament met today.")
    built = QAService(Settings(index_dir=tmp_path / "index", embed_backend="torch"))
    built.add_documents([doc])
    built.close()
    other = QAService(Settings(index_dir=tmp_path / "index"))  # auto: the shipped ONNX int8
    assert other.embedder.backend == "onnx-int8"
    with pytest.raises(ModelMismatch, match="rebuild"):
        other.search("What is the capital of South Ossetia?")
    same = QAService(Settings(index_dir=tmp_path / "index", embed_backend="torch"))
    assert same.search("What is the capital of South Ossetia?")[0].doc_id == "d"
