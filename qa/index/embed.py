"""Sentence embeddings, loaded once per process and only when needed.

Two backends give the same vectors for the packaged all-MiniLM-L6-v2: the ONNX graph shipped in
``qa/models/embedder`` (built from that model by ``python -m qa.train.embed_export``; int8 by
default), run with onnxruntime and the model's own ``tokenizers`` tokenizer, and
sentence-transformers on torch, which serves every other model id or path. ONNX int8 is several
times faster per query and per batch on a CPU; retrieval quality was checked against fp32 before it
became the default (see bench/README.md). Vectors of different backends are close but not equal, so
an index records which one built it (``Embedder.fingerprint``) and refuses queries from another.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from qa import cores
from qa.settings import ModelSettings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: ONNX encoders built from the packaged model, and ``export.json`` saying from which weights
EMBEDDER_DIR = Path(__file__).parents[1] / "models" / "embedder"
EXPORT_MANIFEST = "export.json"
ONNX_VARIANTS = {"onnx-int8": "model-int8.onnx", "onnx": "model.onnx"}
#: ``auto``: the fastest shipped ONNX variant made from this model, else torch
BACKENDS = ("auto", "torch", *ONNX_VARIANTS)
AUTO_ORDER = ("onnx-int8", "onnx")

#: batches this small (questions, not corpora) are remembered, up to RECENT_SIZE texts
RECENT_BATCH = 8
RECENT_SIZE = 512


class Encoder(Protocol):
    """What the embedder needs from a backend."""

    dimension: int
    max_tokens: int

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray: ...


_encoders: dict[tuple[str, str, str], Encoder] = {}
_lock = threading.Lock()


def load_encoder(name: str, backend: str, device: str = "cpu") -> Encoder:
    """One instance per (model, backend, device) per process: workers and tests share it."""
    key = (name, backend, device)
    with _lock:
        if key not in _encoders:
            log.info("loading embedding model %s (%s)", name, backend)
            if backend == "torch":
                _encoders[key] = TorchEncoder(load_sentence_transformer(name, device))
            else:
                _encoders[key] = OnnxEncoder(name, onnx_artifact(name, backend))
        return _encoders[key]


def load_sentence_transformer(name: str, device: str = "cpu") -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(name, device=device)
    cores.apply_to_torch()
    return model


def resolve_backend(name: str, backend: str = "auto") -> str:
    """The concrete backend for ``name``: ``auto`` picks a shipped ONNX encoder when one was built
    from these very weights, torch otherwise. Asking for an ONNX variant that does not exist for
    this model is an error, not a silent fallback."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; known: {', '.join(BACKENDS)}")
    if backend == "torch":
        return backend
    if backend == "auto":
        return next((v for v in AUTO_ORDER if onnx_artifact(name, v) is not None), "torch")
    if onnx_artifact(name, backend) is None:
        raise ValueError(
            f"no {backend} encoder for embedding model {name!r}: ONNX encoders ship for the "
            "packaged all-MiniLM-L6-v2 only (build one with `python -m qa.train.embed_export`); "
            "use QA_EMBED_BACKEND=torch for other models"
        )
    return backend


def onnx_artifact(name: str, variant: str) -> Path | None:
    """The shipped ONNX file of ``variant`` made from model ``name``, or None."""
    try:
        manifest = json.loads((EMBEDDER_DIR / EXPORT_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entry = manifest.get(variant)
    if not entry or entry.get("source_fingerprint") != model_fingerprint(name):
        return None
    path = EMBEDDER_DIR / str(entry["file"])
    return path if path.exists() else None


class TorchEncoder:
    def __init__(self, model: SentenceTransformer) -> None:
        self.model = model
        dim = model.get_embedding_dimension()
        assert dim is not None
        self.dimension = int(dim)
        self.max_tokens = int(model.max_seq_length or 512)
        # transformers' tokenizer sets its truncation on the shared Rust tokenizer for each call,
        # and a call from another thread meanwhile fails ("Already borrowed"): counting (chunking
        # the next documents) and encoding take turns
        self._lock = threading.Lock()

    def count_tokens(self, texts: list[str]) -> list[int]:
        with self._lock:
            enc = self.model.tokenizer(texts, add_special_tokens=False, truncation=False)
        return [len(ids) for ids in enc["input_ids"]]

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        with self._lock:
            vectors = self.model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress and len(texts) > batch_size * 4,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class OnnxEncoder:
    """The exported graph (pooling and normalization included) on onnxruntime, fed by the
    model's fast tokenizer, truncating at the model's ``max_seq_length`` as sentence-transformers
    does.

    Every text runs alone, never padded into a batch: int8 dynamic quantisation scales each
    activation tensor by its own range, so in a batch one text's vector would depend on the
    texts beside it (and on their padding). Alone, a text always gets the same vector, at index
    time and at query time, and on a CPU it is also faster than padded batches. Many texts are
    spread over ``threads`` threads, each running one text on one core (a session may be run
    from several threads at once)."""

    def __init__(self, model_dir: str, onnx_path: Path | None, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if onnx_path is None:
            raise ValueError(f"no ONNX encoder for {model_dir!r}")
        root = Path(model_dir)
        self.max_tokens = int(
            json.loads((root / "sentence_bert_config.json").read_text())["max_seq_length"]
        )
        self._counter = Tokenizer.from_file(str(root / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_tokens)
        self.threads = threads or cores.budget()
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(onnx_path), opts, providers=["CPUExecutionProvider"]
        )
        self._token_types = "token_type_ids" in {i.name for i in self._session.get_inputs()}
        self.dimension = int(self._session.get_outputs()[0].shape[-1])
        self._pool = cores.LazyPool("qa-embed")

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._counter.encode_batch(texts, add_special_tokens=False)]

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        workers = min(self.threads, len(texts))
        if workers <= 1:
            self._run(encodings, out, iter(range(len(texts))))
            return out
        # Each thread takes the next text when it is done with one, longest texts first: the
        # threads then finish together, where fixed shares of a mixed batch leave a core idle
        # while another works through the longest texts.
        order = sorted(range(len(texts)), key=lambda r: -len(encodings[r].ids))
        rows = iter(order)  # next() on a list iterator is atomic under the GIL
        pool = self._pool.get(self.threads)
        done = [pool.submit(self._run, encodings, out, rows) for _ in range(workers)]
        for future in done:
            future.result()
        return out

    def _run(self, encodings: list[Any], out: np.ndarray, rows: Iterator[int]) -> None:
        for r in rows:
            ids = np.array([encodings[r].ids], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            if self._token_types:
                feed["token_type_ids"] = np.zeros_like(ids)
            out[r] = self._session.run(None, feed)[0][0]


class Embedder:
    """Turns texts into L2-normalized float32 vectors, so inner product is cosine similarity."""

    @classmethod
    def from_settings(cls, models: ModelSettings) -> Embedder:
        return cls(models.embed_model, models.embed_batch_size, backend=models.embed_backend)

    def __init__(
        self, model: str, batch_size: int = 32, device: str = "cpu", backend: str = "auto"
    ) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.device = device
        self.backend = resolve_backend(model, backend)
        self._encoder: Encoder | None = None
        # The last few questions' vectors: retrieval embeds a question, then the reader asks for
        # the same vector again; a second encoder pass would be wasted.
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

    def warm_up(self) -> None:
        if self._encoder is None:
            self._encoder = load_encoder(self.model_name, self.backend, self.device)

    @property
    def encoder(self) -> Encoder:
        self.warm_up()
        assert self._encoder is not None
        return self._encoder

    @property
    def fingerprint(self) -> str:
        """The identity an index records: the weights, and the backend when it is not torch
        (torch fp32 keeps the bare weights' fingerprint that indexes have always recorded)."""
        return embedding_fingerprint(self.model_name, self.backend)

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    @property
    def max_tokens(self) -> int:
        return self.encoder.max_tokens

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text (no special tokens), to size chunks to the model's window."""
        return self.encoder.count_tokens(texts)

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) <= RECENT_BATCH:
            with self._recent_lock:
                hits = [self._recent.get(t) for t in texts]
            if all(h is not None for h in hits):
                return np.stack([h for h in hits if h is not None])
        vectors = self._encode(texts, progress)
        if len(texts) <= RECENT_BATCH:
            with self._recent_lock:
                for t, v in zip(texts, vectors, strict=True):
                    self._recent[t] = v
                    self._recent.move_to_end(t)
                while len(self._recent) > RECENT_SIZE:
                    self._recent.popitem(last=False)
        return vectors

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        return self.encoder.encode(texts, self.batch_size, progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def forget_recent(self) -> None:
        """Drop the remembered question vectors (benchmarks measuring uncached searches)."""
        with self._recent_lock:
            self._recent.clear()


def embedding_fingerprint(name: str, backend: str) -> str:
    base = model_fingerprint(name)
    if backend == "torch":
        return base
    artifact = onnx_artifact(name, backend)
    digest = _file_digest(artifact) if artifact is not None else "missing"
    return f"{base}+{backend}:{digest}"


def model_fingerprint(name: str) -> str:
    """An identity for the model that survives moving the install: the packaged model's path
    differs between machines, but its weights do not. Hub ids are their own identity."""
    path = Path(name)
    if not path.is_dir():
        return name
    for weights in ("model.safetensors", "pytorch_model.bin", "model.onnx"):
        f = path / weights
        if f.exists():
            return f"sha256:{_file_digest(f)}"
    return path.name


def _file_digest(f: Path) -> str:
    """Size and first MiB: enough to tell weights apart, cheap enough for every open."""
    st = f.stat()
    return _digest(str(f), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, _mtime_ns: int) -> str:
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
    return h.hexdigest()[:32]
