"""A process that serves is ready before its first question: ``QAService.warm_up`` loads every
model and runs one read, so nothing a question needs is set up lazily on a user's request."""

from __future__ import annotations

from pathlib import Path

from support import CHAIRMAN, CHAIRMAN_Q

from qa.nlp import _sentencizer
from qa.service import QAService
from qa.settings import Settings


def test_warm_up_leaves_nothing_for_the_first_question(seeds_index_dir: Path) -> None:
    _sentencizer.cache_clear()
    svc = QAService(Settings(index_dir=seeds_index_dir))
    svc.warm_up()
    reader = svc.reader
    assert getattr(reader, "_ready", False)
    assert _sentencizer.cache_info().currsize == 1  # citing an answer splits sentences
    result = svc.ask(CHAIRMAN_Q)
    assert result.answer is not None and result.answer.text == CHAIRMAN
    svc.close()
