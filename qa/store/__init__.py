"""Store backends chosen by name in settings (``QA_STORE``), so another backend (e.g. pgvector)
plugs in without touching the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qa.store.base import Store, StoredChunk
from qa.store.faiss_sqlite import FaissSqliteStore

BACKENDS: dict[str, Callable[..., Store]] = {"faiss": FaissSqliteStore}


def make_store(name: str, directory: Path, config: dict[str, Any], create: bool = True) -> Store:
    try:
        backend = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown store backend {name!r}; known: {sorted(BACKENDS)}") from None
    return backend(directory, config, create=create)


__all__ = ["BACKENDS", "FaissSqliteStore", "Store", "StoredChunk", "make_store"]
