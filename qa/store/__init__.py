"""Store backends chosen by name in settings (``QA_STORE``): ``faiss`` (embedded FAISS + SQLite in
``QA_INDEX_DIR``) or ``pgvector`` (PostgreSQL at ``QA_DATABASE_URL``). The service only calls
``store_exists`` and ``open_store`` here and the ``Store`` protocol after that.

Owns the ``Store`` protocol and its contracts (``base``), the two backends and the SQL they share
(``sql``). May import: the foundation only (``qa.types``, ``qa.settings``, ``qa.errors``).
"""

from __future__ import annotations

from qa.errors import IndexError_
from qa.settings import StoreSettings
from qa.store.base import Hit, Store, StoreConfig, StoredChunk, StoreWriter, document_fingerprint

BACKENDS = ("faiss", "pgvector")


def _backend(settings: StoreSettings) -> str:
    if settings.store not in BACKENDS:
        raise ValueError(f"unknown store backend {settings.store!r}; known: {list(BACKENDS)}")
    return settings.store


def store_exists(settings: StoreSettings) -> bool:
    """Whether an index has been created where ``settings`` point; loads no model."""
    if _backend(settings) == "pgvector":
        from qa.store.pgvector import PgVectorStore

        return PgVectorStore.exists(
            _database_url(settings), settings.pg_table_prefix, settings.store_timeout
        )
    from qa.store.faiss_sqlite import FaissSqliteStore

    return FaissSqliteStore.exists(settings.index_dir)


def open_store(settings: StoreSettings, config: StoreConfig | None = None) -> Store:
    """The store ``settings`` name. Without ``config`` it must exist (and no model is needed);
    with one it is created if missing, and ``check``ed against ``config`` if not."""
    store: Store
    if _backend(settings) == "pgvector":
        from qa.store.pgvector import PgVectorStore

        store = PgVectorStore(
            _database_url(settings),
            config,
            create=config is not None,
            prefix=settings.pg_table_prefix,
            write_timeout=settings.write_timeout,
            pool_size=settings.pg_pool_size,
            ef_search=settings.pg_ef_search,
            build_memory=settings.pg_build_memory,
            store_timeout=settings.store_timeout,
        )
    else:
        from qa.store.faiss_sqlite import FaissSqliteStore

        store = FaissSqliteStore(
            settings.index_dir,
            config,
            create=config is not None,
            exact_max=settings.faiss_exact_max,
            mmap=settings.faiss_mmap,
            write_timeout=settings.write_timeout,
        )
    if config is not None:
        try:
            store.check(config)
        except BaseException:
            store.close()
            raise
    return store


def _database_url(settings: StoreSettings) -> str:
    if not settings.database_url:
        raise IndexError_("QA_STORE=pgvector needs QA_DATABASE_URL (postgresql://user@host/db)")
    return settings.database_url


__all__ = [
    "BACKENDS",
    "Hit",
    "Store",
    "StoreConfig",
    "StoreWriter",
    "StoredChunk",
    "document_fingerprint",
    "open_store",
    "store_exists",
]
