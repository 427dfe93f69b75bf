"""Each contract test runs against every backend: the embedded FAISS + SQLite store in a temporary
folder, and pgvector in a real PostgreSQL 18 that this session starts on loopback (and stops)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qa.settings import Settings
from qa.store import Store, StoreConfig, open_store


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    from store.pgserver import LocalPostgres

    with LocalPostgres() as pg:
        yield pg.url


@pytest.fixture(params=["faiss", "pgvector"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings naming one empty store of the backend under test."""
    if request.param == "pgvector":
        url = request.getfixturevalue("postgres_url")
        prefix = f"t{uuid.uuid4().hex[:10]}_"
        return Settings(store="pgvector", database_url=url, pg_table_prefix=prefix)
    return Settings(index_dir=tmp_path / "idx")


@pytest.fixture
def open_new(store_settings: Settings) -> Iterator[Callable[..., Store]]:
    """Opens the store under test (created with ``config``, or existing without), closing every
    store it opened at the end."""
    opened: list[Store] = []

    def opener(config: StoreConfig | None = None, **changes: object) -> Store:
        store = open_store(store_settings.replace(**changes).storage, config)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()
