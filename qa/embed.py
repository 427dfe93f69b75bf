"""Sentence embeddings with sentence-transformers, loaded once per process and only when needed."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

_models: dict[tuple[str, str], SentenceTransformer] = {}
_lock = threading.Lock()


def load_sentence_transformer(name: str, device: str = "cpu") -> SentenceTransformer:
    """One instance per (model, device) per process: workers and tests share it."""
    key = (name, device)
    with _lock:
        if key not in _models:
            from sentence_transformers import SentenceTransformer

            log.info("loading embedding model %s", name)
            _models[key] = SentenceTransformer(name, device=device)
        return _models[key]


#: batches this small (questions, not corpora) are remembered, up to RECENT_SIZE texts
RECENT_BATCH = 8
RECENT_SIZE = 512


class Embedder:
    """Turns texts into L2-normalized float32 vectors, so inner product is cosine similarity."""

    def __init__(self, model: str, batch_size: int = 32, device: str = "cpu") -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.device = device
        self._model: SentenceTransformer | None = None
        # The last few questions' vectors: retrieval embeds a question, then the reader asks for
        # the same vector again; a second encoder pass would be ~10 ms of a ~150 ms answer.
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

    def warm_up(self) -> None:
        if self._model is None:
            self._model = load_sentence_transformer(self.model_name, self.device)

    @property
    def model(self) -> SentenceTransformer:
        self.warm_up()
        assert self._model is not None
        return self._model

    @property
    def dimension(self) -> int:
        dim = self.model.get_embedding_dimension()
        assert dim is not None
        return int(dim)

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length or 512)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text (no special tokens), to size chunks to the model's window."""
        tokenizer = self.model.tokenizer
        enc = tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in enc]

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
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress and len(texts) > self.batch_size * 4,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def model_fingerprint(name: str) -> str:
    """An identity for the model that survives moving the install: the packaged model's path
    differs between machines, but its weights do not. Hub ids are their own identity."""
    import hashlib
    from pathlib import Path

    path = Path(name)
    if not path.is_dir():
        return name
    for weights in ("model.safetensors", "pytorch_model.bin", "model.onnx"):
        f = path / weights
        if f.exists():
            h = hashlib.sha256(str(f.stat().st_size).encode())
            with open(f, "rb") as fh:
                h.update(fh.read(1 << 20))
            return f"sha256:{h.hexdigest()[:32]}"
    return path.name
