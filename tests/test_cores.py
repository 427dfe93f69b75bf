"""The thread budget of a process's model runtimes, known without importing torch."""

from __future__ import annotations

import pytest

from qa import cores


@pytest.fixture(autouse=True)
def _no_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cores, "_shared", None)
    monkeypatch.setattr(cores, "apply_to_torch", lambda: None)  # leave this process's torch be
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def test_all_available_cores_by_default() -> None:
    assert cores.budget() == cores.available() >= 1


def test_serve_shares_the_cores_between_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cores, "available", lambda: 8)
    cores.share(3)
    assert cores.budget() == 2
    cores.share(16)
    assert cores.budget() == 1  # never none


def test_the_operator_decides_first(monkeypatch: pytest.MonkeyPatch) -> None:
    cores.share(2)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cores.budget() == 3
