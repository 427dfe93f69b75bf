"""Connections to PostgreSQL that fail fast while the server is away and come back by themselves.

psycopg_pool's pool, used as it is, answers an outage badly for a web service: a borrower waits
the pool's whole timeout while the pool retries connecting with a backoff that grows to minutes,
so requests hang, and after a restart a connection kept from before it can still be handed out.
``PgConnections`` keeps the pool but decides, per borrow, whether the server is there:

- every connection is checked as it is borrowed (the pool's ``check``). One that fails the
  check means the server went away since it was last used (a restart): its siblings in the pool
  died with it, so the whole pool is dropped and the borrow goes on with a fresh one. No dead
  connection serves a request.
- A connection that breaks while in use, or a borrow that times out, marks the server down: the
  pool is dropped, and until a probe (one direct connection, made by one request at a time and at
  most every ``PROBE_INTERVAL`` seconds) reaches the server again, borrowers are refused at once
  with ``StoreUnavailable`` instead of queueing behind a pool that cannot connect.
- Connecting is bounded by libpq's ``connect_timeout``, and data the server stops acknowledging
  (a host gone from the network) by ``tcp_user_timeout``.

Errors that reach callers as ``StoreUnavailable`` say nothing of the server's address or the
driver's message (clients see them); the log has both.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from qa.errors import StoreUnavailable

log = logging.getLogger(__name__)

#: seconds between two probes of a server found down
PROBE_INTERVAL = 0.5

UNREACHABLE = "the index cannot be reached right now; try again in a few seconds"
TOO_SLOW = "the index did not answer in time; try again in a few seconds"


class _Stale(BaseException):
    """Raised by the borrow check. A BaseException, so that the pool gives the dead connection
    back at once rather than checking the next one after a backoff of a second or more."""


def connect_options(timeout: float) -> dict[str, Any]:
    """libpq parameters bounding how long reaching the server may take (``connect_timeout``
    counts whole seconds, at least 2)."""
    return {
        "connect_timeout": max(2, math.ceil(timeout)),
        "tcp_user_timeout": max(1, int(timeout * 1000)),
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }


def connect(url: str, timeout: float) -> Any:
    """One autocommit connection outside any pool, or ``StoreUnavailable``."""
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, **connect_options(timeout))
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(UNREACHABLE) from exc


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Driver errors that mean the store cannot serve now leave the block as
    ``StoreUnavailable`` (for connections made outside the pool)."""
    import psycopg

    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise unavailable(exc) from exc


def unavailable(exc: BaseException) -> StoreUnavailable:
    """The error a caller sees for a driver error that means the store cannot serve now."""
    import psycopg

    if isinstance(exc, psycopg.errors.QueryCanceled):
        return StoreUnavailable(TOO_SLOW)
    return StoreUnavailable(UNREACHABLE)


class PgConnections:
    """Up to ``size`` autocommit connections to ``url`` shared by this process's threads, each
    made ready by ``configure``; a borrower waits at most ``timeout`` seconds."""

    def __init__(
        self,
        url: str,
        size: int,
        timeout: float,
        configure: Callable[[Any], None] | None = None,
    ) -> None:
        self.url = url
        self.size = max(1, size)
        self.timeout = timeout
        self._configure = configure
        self._lock = threading.Lock()  # guards _pool and _closed
        self._probing = threading.Lock()  # one probe at a time; the others are refused
        self._retry_at = 0.0
        self._closed = False
        self._pool: Any = self._new_pool()

    def _new_pool(self) -> Any:
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(
            self.url,
            min_size=1,
            max_size=self.size,
            kwargs={"autocommit": True, **connect_options(self.timeout)},
            configure=self._configure,
            check=_check,
            timeout=self.timeout,
            open=False,
            name="qa-pgvector",
        )
        pool.open(wait=False)
        return pool

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """A live connection for the block. Driver errors that mean the store cannot serve
        (it went away, it timed out) leave the block as ``StoreUnavailable``."""
        import psycopg

        pool, conn = self._borrow()
        try:
            yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if conn.broken or conn.closed:
                self._down(pool, exc)
            raise unavailable(exc) from exc
        finally:
            with contextlib.suppress(Exception):
                pool.putconn(conn)

    def _borrow(self) -> tuple[Any, Any]:
        import psycopg
        from psycopg_pool import PoolClosed

        for _ in range(3):
            pool = self._current()
            try:
                return pool, pool.getconn(self.timeout)
            except _Stale as exc:
                self._down(pool, exc.__cause__ or exc)  # the next turn probes and starts afresh
            except PoolClosed:
                continue  # dropped by another thread meanwhile: take the one that replaced it
            except psycopg.OperationalError as exc:  # no connection in time
                self._down(pool, exc)
                raise unavailable(exc) from exc
        raise StoreUnavailable(UNREACHABLE)

    def _current(self) -> Any:
        import psycopg

        pool = self._pool
        if pool is not None:
            return pool
        # down: one request at a time looks whether the server is back, the others are refused
        if time.monotonic() < self._retry_at or not self._probing.acquire(blocking=False):
            raise StoreUnavailable(UNREACHABLE)
        try:
            with self._lock:
                if self._closed:
                    raise StoreUnavailable(UNREACHABLE)
                if self._pool is not None:
                    return self._pool
            try:
                with connect(self.url, self.timeout) as probe:
                    probe.execute("SELECT 1")
            except (StoreUnavailable, psycopg.Error) as exc:
                self._retry_at = time.monotonic() + PROBE_INTERVAL
                log.debug("PostgreSQL still away: %s", exc.__cause__ or exc)
                raise unavailable(exc) from exc
            pool = self._new_pool()
            with self._lock:
                if self._closed:
                    pool.close()
                    raise StoreUnavailable(UNREACHABLE)
                self._pool = pool
            log.warning("PostgreSQL answers again: serving")
            return pool
        finally:
            self._probing.release()

    def _down(self, pool: Any, exc: BaseException) -> None:
        """Drop ``pool`` (unless already dropped): its connections are dead or the server is not
        answering. The next borrower probes the server."""
        with self._lock:
            if self._pool is not pool:
                return
            self._pool = None
            self._retry_at = 0.0
        log.warning("lost PostgreSQL (%s): requests are refused until it answers again", exc)
        # closing waits for the pool's threads; the request that noticed should not
        threading.Thread(target=pool.close, name="qa-pg-close", daemon=True).start()

    def stats(self) -> dict[str, int]:
        """The current pool's counters (psycopg_pool's ``get_stats``); empty while down."""
        pool = self._pool
        return dict(pool.get_stats()) if pool is not None else {}

    def close(self) -> None:
        with self._lock:
            pool, self._pool, self._closed = self._pool, None, True
        if pool is not None:
            pool.close()


def _check(conn: Any) -> None:
    from psycopg_pool import ConnectionPool

    try:
        ConnectionPool.check_connection(conn)
    except Exception as exc:
        raise _Stale from exc
