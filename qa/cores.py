"""How many cores this process's model runtimes (onnxruntime, torch when loaded) may use.

Read from the operator's ``OMP_NUM_THREADS``, else the share ``qa serve`` gave this worker
(``share``), else the cores the process may run on. It lives apart from torch so that a process
serving ONNX models never imports torch just to learn its thread budget.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

_shared: int | None = None


def available() -> int:
    """Cores this process may run on (its CPU affinity, which a container may narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def budget() -> int:
    """Intra-op threads for one model call in this process."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    if _shared is not None:
        return _shared
    return available()


def share(workers: int) -> None:
    """Give this process an equal share of the cores among ``workers`` processes (``qa serve``):
    several workers each spreading one matrix product over every core spend more time contending
    than computing. torch, when something already loaded it, follows at once; a torch loaded
    later follows through ``apply_to_torch``."""
    global _shared
    _shared = max(1, available() // max(1, workers))
    apply_to_torch()


def apply_to_torch() -> None:
    """Hold torch (when loaded) to the share; without one (and without ``OMP_NUM_THREADS``)
    torch keeps its own default."""
    torch = sys.modules.get("torch")
    if torch is not None and _shared is not None and not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(_shared)


class LazyPool:
    """A thread pool made on first use, in the process that uses it: ``qa serve`` loads the models
    and then forks its workers, and threads started before the fork do not exist after it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def get(self, threads: int) -> ThreadPoolExecutor:
        """The pool, made with ``threads`` threads if this is the first use."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(threads, thread_name_prefix=self.name)
            return self._pool
