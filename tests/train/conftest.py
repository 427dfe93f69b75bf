"""Fixtures shared by the training tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import squad


@pytest.fixture
def squad_files(tmp_path: Path) -> tuple[Path, Path]:
    titles_ = {f"Article_{k}": 3 for k in range(6)}
    answerable = tmp_path / "squad1.json"
    answerable.write_text(json.dumps(squad(titles_)))
    unanswerable = tmp_path / "squad2.json"
    unanswerable.write_text(json.dumps(squad({t: 2 for t in list(titles_)[:4]}, impossible=True)))
    return answerable, unanswerable
