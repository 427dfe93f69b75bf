"""A process that serves is ready before its first question: ``QAService.warm_up`` loads every
model and runs one read, so nothing a question needs is set up lazily on a user's request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support import CHAIRMAN, CHAIRMAN_Q, ROOT

from qa.service import QAService
from qa.settings import Settings
from qa.text.sentences import _sentencizer


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


def test_serving_the_shipped_models_imports_neither_torch_nor_transformers(
    seeds_index_dir: Path,
) -> None:
    """The ONNX encoder and reader run on onnxruntime and tokenizers alone; torch (imported by
    transformers, and by spaCy's thinc unless kept from it) would cost every server worker some
    hundreds of MB. A fresh process, as this one may have imported torch for other tests."""
    script = (
        "import json, sys\n"
        "from qa.service import QAService\n"
        "from qa.settings import Settings\n"
        f"svc = QAService(Settings(index_dir={str(seeds_index_dir)!r}))\n"
        "svc.warm_up()\n"
        f"answer = svc.ask({CHAIRMAN_Q!r}).answer\n"
        "names = ('torch', 'transformers', 'sentence_transformers', 'numba', 'spacy')\n"
        "print(json.dumps({'loaded': [m for m in names if m in sys.modules],\n"
        "                  'answer': answer.text if answer else None}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("QA_EMBED_BACKEND", None)
    env.pop("QA_READER_MODEL", None)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["loaded"] == ["spacy"]  # the sentence splitter cites the answer's sentence
    assert out["answer"] == CHAIRMAN
