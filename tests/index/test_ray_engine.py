"""`qa index --engine ray`: a local Ray runtime (2 CPUs, loopback) embeds the corpus with an actor
pool, and the index answers exactly like one built without Ray."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support import SEEDS

from qa.cli import main
from qa.service import QAService
from qa.settings import Settings

QUESTIONS = [
    "Who is the chairman of the Tskhinvali parliament?",
    "Which news agency reported the alliance agreement?",
    "treaty on alliance and integration",
]


@pytest.mark.slow
def test_ray_build_answers_exactly_like_a_local_build(tmp_path: Path):
    pytest.importorskip("ray", reason="the scale extra installs Ray")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in sorted(SEEDS.glob("*.txt"))[:2]:
        shutil.copy(f, corpus)
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(["--index-dir", str(local), "index", str(corpus)]) == 0
    try:
        assert main(["--index-dir", str(remote), "index", "--engine", "ray", str(corpus)]) == 0
    finally:
        import ray

        ray.shutdown()
    a, b = QAService(Settings(index_dir=local)), QAService(Settings(index_dir=remote))
    assert a.store.count() == b.store.count() and a.store.count()[1] > 0
    assert [st.chunk for st in a.store.chunks()] == [st.chunk for st in b.store.chunks()]
    for q in QUESTIONS:
        pa, pb = a.search(q, top_k=5), b.search(q, top_k=5)
        assert [(p.doc_id, p.start, p.end) for p in pa] == [(p.doc_id, p.start, p.end) for p in pb]
        assert [p.scores.get("dense") for p in pa] == pytest.approx(
            [p.scores.get("dense") for p in pb], abs=1e-5
        )
