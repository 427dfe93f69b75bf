"""Back-pressure for one worker process.

Answering a question takes tens to hundreds of milliseconds of CPU. Under overload an unbounded
queue only makes every answer late; a bounded one answers the excess at once with 503 and
``Retry-After`` so clients and load balancers can back off or go elsewhere.

``InFlightLimiter`` admits at most ``capacity`` requests into the app at once (waiting or running)
and lets at most ``concurrency`` of them run the models at the same time; the others wait their
turn inside the bound. Health checks and metrics bypass it so a busy worker still looks alive.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Overloaded(Exception):
    """Raised when the worker already holds ``capacity`` requests."""


class InFlightLimiter:
    def __init__(self, capacity: int, concurrency: int) -> None:
        if capacity < 1 or concurrency < 1:
            raise ValueError("capacity and concurrency must be at least 1")
        self.capacity = capacity
        self._count = 0
        self._count_lock = threading.Lock()
        self._run = threading.BoundedSemaphore(concurrency)

    @property
    def in_flight(self) -> int:
        return self._count

    def try_enter(self) -> bool:
        """Admit one request if there is room; never blocks."""
        with self._count_lock:
            if self._count >= self.capacity:
                return False
            self._count += 1
            return True

    def leave(self) -> None:
        with self._count_lock:
            if self._count <= 0:
                raise RuntimeError("leave() without a matching try_enter()")
            self._count -= 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one admission for the duration of the block, or raise ``Overloaded``."""
        if not self.try_enter():
            raise Overloaded
        try:
            yield
        finally:
            self.leave()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Wait for a turn to use the models (within an admission)."""
        with self._run:
            yield
