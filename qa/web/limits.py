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
import time
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


class RateLimiter:
    """Token buckets per client key: ``per_minute`` requests a minute on average, in bursts of up
    to ``burst``. Keys are client addresses; behind a reverse proxy they are all the proxy's, so
    the limit then applies to all writers together, which is the safe side. The table of buckets
    is bounded: past ``max_keys`` the longest idle half is forgotten."""

    def __init__(self, per_minute: float, burst: int = 10, max_keys: int = 10_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(burst, 1)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def acquire(self, key: str, now: float | None = None) -> float:
        """Take one token for ``key``: 0.0 when allowed, else seconds until one is available.
        A rate of 0 disables the limit."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._store(key, (tokens - 1.0, now))
                return 0.0
            self._store(key, (tokens, now))
            return (1.0 - tokens) / self.rate

    def _store(self, key: str, value: tuple[float, float]) -> None:
        self._buckets[key] = value
        if len(self._buckets) > self.max_keys:
            by_age = sorted(self._buckets, key=lambda k: self._buckets[k][1])
            for old in by_age[: len(by_age) // 2]:
                del self._buckets[old]
