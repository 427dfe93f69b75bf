"""The pgvector store while PostgreSQL crashes and comes back (issue 32): every call fails with
``StoreUnavailable`` within the store timeout instead of hanging or leaking a driver error, a
failed write says so, and the store serves again by itself once the server is back, without a
dead connection from before the crash serving anyone. A PostgreSQL of its own (it is crashed)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from store.helpers import CONFIG, add, make_doc, vectors_for
from store.pgserver import LocalPostgres

from qa.errors import StoreUnavailable
from qa.store.pgvector import PgVectorStore

TIMEOUT = 2.0
T = TypeVar("T")


@pytest.fixture(scope="module")
def pg() -> Iterator[LocalPostgres]:
    with LocalPostgres() as server:
        yield server


@pytest.fixture
def store(pg: LocalPostgres) -> Iterator[PgVectorStore]:
    s = PgVectorStore(
        pg.url, CONFIG, create=True, prefix=f"o{uuid.uuid4().hex[:10]}_", store_timeout=TIMEOUT
    )
    yield s
    s.close()


def _timed(call: object) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()  # type: ignore[operator]
    except BaseException as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


def _once_back(call: Callable[[], T]) -> T:
    """``call()`` once the store answers again (it looks at most twice a second)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return call()
        except StoreUnavailable:
            assert time.monotonic() < deadline, "the store did not come back"
            time.sleep(0.1)


def test_an_outage_is_store_unavailable_at_once_and_the_store_comes_back_by_itself(
    pg: LocalPostgres, store: PgVectorStore
):
    chunks = add(store, "before")
    query = vectors_for(chunks)[0]
    pg.crash()
    try:
        calls = {
            "search": lambda: store.search(query, 3),
            "count": store.count,
            "documents": store.documents,
            "generation": store.generation,
            "get_chunks": lambda: store.get_chunks([1]),
            "add": lambda: add(store, "during"),
            "delete": lambda: store.delete("before"),
        }
        for _ in range(3):  # the first call finds the connections dead, the others the server
            for name, call in calls.items():
                seconds, error = _timed(call)
                assert isinstance(error, StoreUnavailable), (name, error)
                assert error.status == 503 and error.code == "store_unavailable"
                assert seconds < TIMEOUT + 1, (name, seconds)
                message = str(error)
                assert "127.0.0.1" not in message and str(pg.port) not in message
                if name in ("add", "delete"):
                    assert "write was not confirmed" in message, message
    finally:
        pg.restart()
    hits = _once_back(lambda: store.search(query, 3))
    assert store.get_chunks([hits[0].chunk_id])[hits[0].chunk_id] == chunks[0]
    add(store, "after")
    assert sorted(d.id for d in store.documents()) == ["after", "before"]


def test_a_restart_while_idle_costs_no_request_a_dead_connection(
    pg: LocalPostgres, store: PgVectorStore
):
    """Connections pooled before the restart are all dead; the first calls after it (several at
    once, so several pooled connections are borrowed) are served by new ones."""
    add(store, "a")
    with store.writing() as w:  # hold one connection while others are borrowed: the pool grows
        doc, chunks = make_doc("b")
        w.add([doc], chunks, vectors_for(chunks))
        store.count()
    pg.crash()
    pg.restart()
    for _ in range(5):
        assert store.count() == (2, 6)
    assert store.generation() == 2


def test_a_write_is_acknowledged_only_when_its_commit_is_durable(store: PgVectorStore):
    """Even on a server run with synchronous_commit off (as the test server is), a write
    commits durably before it returns: a crash after the acknowledgement cannot undo it."""
    with store._connections.connection() as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "off"
    seen: list[str] = []
    with store.writing() as w:
        doc, chunks = make_doc("durable")
        w.add([doc], chunks, vectors_for(chunks))
        seen.append(w.conn.execute("SHOW synchronous_commit").fetchone()[0])
    assert seen == ["on"]


def test_a_write_cut_off_by_a_crash_is_reported_failed_and_not_half_written(
    pg: LocalPostgres, store: PgVectorStore
):
    add(store, "kept")
    try:
        doc, chunks = make_doc("cut")
        with (
            pytest.raises(StoreUnavailable, match="write was not confirmed"),
            store.writing() as w,
        ):
            pg.crash()  # the write's connection dies under it
            w.add([doc], chunks, vectors_for(chunks))
        seconds, error = _timed(store.count)  # the server is down: refused, not waited for
        assert isinstance(error, StoreUnavailable) and seconds < TIMEOUT + 1
    finally:
        pg.restart()
    assert [d.id for d in _once_back(store.documents)] == ["kept"]
