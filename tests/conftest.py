"""Shared fixtures: one real index of the seeds per test session, built with the real models.

Tests that write (add/delete) build their own small index; tests that only read share
``seeds_service`` so the embedding work is paid once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir
from support import ROOT, SEEDS

from qa.service import QAService
from qa.settings import Settings

# Hypothesis (the property tests, schemathesis) keeps its examples and caches beside pytest's cache
# rather than in a folder of its own in the working directory.
set_hypothesis_home_dir(ROOT / ".pytest_cache" / "hypothesis")


@pytest.fixture(scope="session")
def seeds_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built seeds index; copy it (``shutil.copytree``) before writing to it."""
    directory = tmp_path_factory.mktemp("seeds-index")
    svc = QAService(Settings(index_dir=directory, corpus=[SEEDS]))
    report = svc.index()
    assert len(report.added) == 5 and not report.problems
    svc.close()
    return directory


@pytest.fixture(scope="session")
def seeds_service(seeds_index_dir: Path) -> Iterator[QAService]:
    svc = QAService(Settings(index_dir=seeds_index_dir, corpus=[SEEDS]))
    svc.retriever.sync()  # the reader loads on the first question that needs it
    yield svc
    svc.close()


@pytest.fixture
def seeds_text() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}
