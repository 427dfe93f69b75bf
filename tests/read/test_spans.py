"""The span search the reader and the training probe share."""

from __future__ import annotations

import numpy as np
import pytest

from qa.read.spans import best_spans


def test_best_spans_come_best_first_within_the_length_band() -> None:
    start = np.array([5.0, 0.0, 1.0, 0.0])
    end = np.array([0.0, 0.0, 0.0, 6.0])
    # (0, 3) would score 11 but is 4 tokens long
    spans = best_spans(start, end, max_tokens=3, k=3)
    assert spans[0] == (2, 3, pytest.approx(7.0))
    assert [s[2] for s in spans] == sorted((s[2] for s in spans), reverse=True)
    assert all(0 <= j - i < 3 for i, j, _ in spans)
    assert best_spans(start, end, max_tokens=4, k=1) == [(0, 3, pytest.approx(11.0))]


def test_an_end_never_comes_before_its_start() -> None:
    start = np.array([0.0, 9.0])
    end = np.array([9.0, 1.0])
    # (1, 0) would score 18
    assert best_spans(start, end, max_tokens=5, k=1) == [(1, 1, pytest.approx(10.0))]


def test_ruled_out_pairs_are_never_returned() -> None:
    start = np.array([5.0, 0.0, 0.0])
    end = np.array([0.0, 0.0, 5.0])
    allowed = np.ones((3, 3), dtype=bool)
    allowed[0, 2] = False  # a line break between tokens 0 and 2
    spans = best_spans(start, end, max_tokens=5, k=10, allowed=allowed)
    assert (0, 2) not in [(i, j) for i, j, _ in spans]
    assert len(spans) == 5  # the six pairs of the band, less the one ruled out
    assert best_spans(start, end, 5, 1, allowed=np.zeros((3, 3), dtype=bool)) == []
