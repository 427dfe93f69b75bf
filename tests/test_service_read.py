"""``QAService.read``: the reader reads the first ``reader_passages`` passages, every passage is
returned, and each passage read carries its cosine to the question (the confidence weighs it)."""

from __future__ import annotations

from pathlib import Path

from support import CHAIRMAN, CHAIRMAN_Q

from qa.service import QAService
from qa.settings import Settings
from qa.types import Passage


def test_reader_reads_the_first_passages_and_all_are_returned(seeds_index_dir: Path) -> None:
    svc = QAService(Settings(index_dir=seeds_index_dir, reader_passages=1, answer_threshold=0.0))
    result = svc.ask(CHAIRMAN_Q, top_k=5)
    assert len(result.passages) == 5 and result.answers
    first = result.passages[0]
    for answer in result.answers:
        assert (
            answer.doc_id == first.doc_id and first.start <= answer.start < answer.end <= first.end
        )
    svc.close()


def test_a_passage_handed_in_gets_its_cosine(seeds_index_dir: Path) -> None:
    svc = QAService(Settings(index_dir=seeds_index_dir))
    text = "Alan Alborov is the chairman of the parliament in Tskhinvali."
    result = svc.read(CHAIRMAN_Q, [Passage("d", 0, 0, len(text), text)])
    assert result.answer is not None and result.answer.text == CHAIRMAN
    assert result.answer.features["dense_own"] > 0.3
    assert result.answer.features["inverse_rank"] == 1.0
    svc.close()


KGB_Q = "Who was the head of the Abkhazian KGB from 1992 to 1998?"
KGB_TEXT = "Leonid Tibilov was the head of South Ossetian KGB from 1992 to 1998."


def test_a_refusal_shows_its_closest_candidate_and_what_the_passage_lacks(
    seeds_index_dir: Path,
) -> None:
    # a threshold no answer reaches: whatever the reader believes, this is a refusal
    svc = QAService(Settings(index_dir=seeds_index_dir, answer_threshold=1.01))
    result = svc.read(KGB_Q, [Passage("d", 0, 0, len(KGB_TEXT), KGB_TEXT)])
    assert result.answer is None and result.refusal is not None
    closest = result.refusal.closest
    assert KGB_TEXT[closest.start : closest.end] == closest.text == "Leonid Tibilov"
    assert not result.refusal.stated
    assert [u.to_dict() for u in result.refusal.unsupported] == [
        {"text": "Abkhazian", "kind": "name", "instead": "South Ossetian"}
    ]
    assert result.refusal.reason == "The passage says South Ossetian, not Abkhazian."
    assert result.to_dict()["refusal"]["closest"]["text"] == "Leonid Tibilov"
    answered = QAService(Settings(index_dir=seeds_index_dir, answer_threshold=0.0))
    assert answered.read(KGB_Q, [Passage("d", 0, 0, len(KGB_TEXT), KGB_TEXT)]).refusal is None
    svc.close()
    answered.close()
