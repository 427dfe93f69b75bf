"""Embedding a corpus on a Ray cluster (`qa index --engine ray [--address ...]`).

Chunking stays in the driver (it is cheap next to the encoder); Ray Data's ``map_batches`` spreads
the chunks over a pool of actors, each of which loads the embedding model once, and the vectors come
back in chunk order. The driver then writes them to the configured store exactly as a local build
does (one transaction per batch, ``COPY`` for pgvector), so both builds answer alike.

Without an address a local Ray runtime is started on 127.0.0.1 with usage statistics off.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from qa.index.embed import Embedder
from qa.settings import ModelSettings

#: chunks per Ray batch: large enough to keep an actor's encoder busy, small enough to spread
RAY_BATCH = 256


class _EmbedActor:
    """One per Ray actor: the model loads once, in ``__init__``, not per batch."""

    def __init__(self, models: ModelSettings) -> None:
        self.embedder = Embedder.from_settings(models)
        self.embedder.warm_up()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.embed([str(t) for t in batch["text"]])
        return {"i": batch["i"], "vector": vectors}


def start(address: str | None, num_cpus: int | None = None) -> Any:
    """Connect to the cluster at ``address``, or start a local runtime bound to loopback."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return ray
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(
            num_cpus=num_cpus or min(2, os.cpu_count() or 1),
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
            configure_logging=False,
        )
    return ray


def embed(
    texts: list[str], models: ModelSettings, address: str | None = None, actors: int | None = None
) -> np.ndarray:
    """Vectors for ``texts``, in order, computed by a pool of Ray actors."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    ray = start(address)
    from ray.data import from_items

    pool = actors or max(1, min(2, int(ray.available_resources().get("CPU", 1))))
    items = [{"i": i, "text": t} for i, t in enumerate(texts)]
    out = from_items(items).map_batches(
        _EmbedActor,
        fn_constructor_kwargs={"models": models},
        batch_size=RAY_BATCH,
        concurrency=pool,
        num_cpus=1,
    )
    order, vectors = [], []
    for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
        order.append(batch["i"])
        vectors.append(np.asarray(batch["vector"], dtype=np.float32))
    index = np.concatenate(order)
    stacked = np.concatenate(vectors)
    result = np.empty_like(stacked)
    result[index] = stacked
    return result
