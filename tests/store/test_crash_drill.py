"""A short run of bench/crash_drill.py: `qa index` killed with SIGKILL inside a write (the drill
stops it while it holds the index's write lock, then kills it) leaves an index that opens,
answers, and holds whole committed batches only (issue 14's crash drill)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


@pytest.mark.slow
def test_index_killed_at_random_moments_stays_consistent(tmp_path: Path):
    from crash_drill import drill

    result = drill(runs=3, n_docs=24, seed=1, work=tmp_path)
    failures = [t for t in result["trials"] if not t["survived"]]
    assert not failures, failures
    # every kill landed inside a write, not before the first or after the last
    assert [t["killed_in_write"] for t in result["trials"]] == [True] * 3, result["trials"]
    assert result["survived"] == result["runs"] == 3
    assert all(t["batches"] <= 4 for t in result["trials"])  # 24 documents, batches of 6
