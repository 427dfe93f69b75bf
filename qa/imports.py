"""Importing a library without the optional heavy libraries it would import for features we do
not use: thinc (spaCy's network library) imports torch, and bm25s imports numba, whenever they
are installed. Each costs every process that loads it tens to hundreds of MB, server workers
included, and neither is used on our paths (en_core_web_sm runs on numpy; our BM25 scores with
bm25s's numpy backend).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()


@contextmanager
def hidden(*names: str) -> Iterator[None]:
    """Inside the block ``import NAME`` raises ImportError for each of ``names`` not imported
    yet, so a library imported here takes its "not installed" branch. The library keeps that
    view for the life of the process; a later ``import NAME`` elsewhere works as usual."""
    with _lock:
        hide = [n for n in names if n not in sys.modules]
        for name in hide:
            sys.modules[name] = None  # type: ignore[assignment]  # "import NAME" raises
        try:
            yield
        finally:
            for name in hide:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]
