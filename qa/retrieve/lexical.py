"""The lexical half of retrieval: BM25 (bm25s) over every chunk of one store generation.

An index is built from the store and never updated: when the store's generation moves, a new one
replaces it. Built indexes are saved beside the store (``bm25-<generation>-<store>/``), so the next
process (a server worker, the next CLI run) memory-maps the arrays instead of tokenizing the corpus
again, and workers on one machine share those pages. A save is written aside and renamed into
place, so a reader never sees half of one; it is a cache: deleting it only costs a rebuild.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from qa.imports import hidden
from qa.store.base import Store

with hidden("numba"):  # bm25s imports it for a backend we do not use (see qa.imports)
    import bm25s

log = logging.getLogger(__name__)
# bm25s logs every index build at DEBUG through its own handler; that is noise for our users.
logging.getLogger("bm25s").setLevel(logging.WARNING)

PREFIX = "bm25-"
#: what a saved index depends on besides the chunks; a save made with anything else is rebuilt
TOKENIZER = f"bm25s {bm25s.__version__}, English stopwords, Snowball English stemmer"


def _stemmer() -> Any:
    import Stemmer  # PyStemmer: the stemmer bm25s recommends, a C extension

    return Stemmer.Stemmer("english")


class LexicalIndex:
    """BM25 over every chunk of one store generation; replaced, never updated, when it moves."""

    def __init__(self) -> None:
        self._stemmer = _stemmer()
        self._bm25: bm25s.BM25 | None = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._pos: dict[int, int] = {}
        self.generation = -1
        self.store_id = ""  # the store's identity(): a generation number alone repeats
        self.source = "empty"  # "built" from the store, or "loaded" from a save

    @property
    def size(self) -> int:
        return len(self._ids)

    def build(self, store: Store) -> None:
        # read first: a write during the build then leaves this index behind, not falsely current
        generation, store_id = store.generation(), store.identity()
        ids, texts = [], []
        for stored in store.chunks():
            ids.append(stored.id)
            texts.append(stored.chunk.text)
        self._set_ids(np.array(ids, dtype=np.int64))
        if texts:
            bm25 = bm25s.BM25()
            bm25.index(self._tokenize(texts), show_progress=False)
            self._bm25 = bm25
        else:
            self._bm25 = None
        self.generation = generation
        self.store_id = store_id
        self.source = "built"

    def _set_ids(self, ids: np.ndarray) -> None:
        self._ids = ids
        self._pos = {int(cid): i for i, cid in enumerate(ids)}

    def _tokenize(self, texts: list[str]) -> list[list[str]]:
        tokens = bm25s.tokenize(
            texts, stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        assert isinstance(tokens, list)
        return tokens

    def search(self, query: str, k: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        if self._bm25 is None or k <= 0:
            return []
        q = self._tokenize([query])[0]
        if not q:
            return []
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self._ids), dtype=np.float32)
            mask[[self._pos[c] for c in allowed if c in self._pos]] = 1.0
        scores = self._bm25.get_scores(q, weight_mask=mask)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self._ids[i]), float(scores[i])) for i in top if scores[i] > 0]

    # -- saved beside the store ----------------------------------------------------------------

    def save(self, directory: Path) -> Path:
        """Publish this index as ``directory/bm25-<generation>-<store>`` and remove the saves of
        older generations and of other stores (a store created again in the same folder).

        Raises ``OSError`` when the directory is not writable (the index still serves)."""
        if self.generation < 0:
            raise ValueError("only a built index can be saved")
        final = _save_path(directory, self.generation, self.store_id)
        if not final.exists():
            # a pgvector replica's QA_INDEX_DIR holds nothing else and may not exist yet
            directory.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=directory))
            try:
                if self._bm25 is not None:
                    self._bm25.save(str(tmp), show_progress=False)
                np.save(tmp / "ids.npy", self._ids)
                manifest = {
                    "store": self.store_id,
                    "generation": self.generation,
                    "chunks": self.size,
                    "tokenizer": TOKENIZER,
                }
                (tmp / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
                os.rename(tmp, final)  # a process that published this generation first wins
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
                if not final.exists():
                    raise
        # older saves, other stores' saves, and leftovers of writers that died: a process still
        # reading a removed save keeps its memory-mapped pages
        tag = _store_tag(self.store_id)
        for old in [*directory.glob(f"{PREFIX}*"), *directory.glob(f".{PREFIX}*")]:
            parsed = _parse(old)
            if (
                old != final
                and parsed is not None
                and (parsed[0] < self.generation or parsed[1] != tag)
            ):
                shutil.rmtree(old, ignore_errors=True)
        return final

    @classmethod
    def load(cls, directory: Path, generation: int, store_id: str) -> LexicalIndex | None:
        """The save of store ``store_id`` at ``generation`` in ``directory``, memory-mapped; None
        when there is no usable one (missing, partial, of another store, made by another
        tokenizer)."""
        path = _save_path(directory, generation, store_id)
        try:
            manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
            if (
                manifest.get("store") != store_id
                or manifest.get("generation") != generation
                or manifest.get("tokenizer") != TOKENIZER
            ):
                return None
            ids = np.load(path / "ids.npy")
            if len(ids) != manifest.get("chunks"):
                return None
            bm25 = bm25s.BM25.load(str(path), mmap=True, show_progress=False) if len(ids) else None
        except FileNotFoundError:
            return None
        except Exception as exc:  # damaged: rebuilding is always possible
            log.warning("ignoring the saved BM25 index %s: %s", path, exc)
            return None
        index = cls()
        index._set_ids(np.asarray(ids, dtype=np.int64))
        index._bm25 = bm25
        index.generation = generation
        index.store_id = store_id
        index.source = "loaded"
        return index


def _store_tag(store_id: str) -> str:
    return hashlib.sha1(store_id.encode("utf-8")).hexdigest()[:10]


def _save_path(directory: Path, generation: int, store_id: str) -> Path:
    return directory / f"{PREFIX}{generation}-{_store_tag(store_id)}"


def _parse(path: Path) -> tuple[int, str] | None:
    """``bm25-7-<tag>`` (a save) and ``.bm25-7-<tag>-x1y2`` (one being written) are generation 7
    of the store tagged ``<tag>``; None for names that are not ours."""
    name = path.name.lstrip(".")
    if not name.startswith(PREFIX):
        return None
    parts = name[len(PREFIX) :].split("-")
    if len(parts) < 2 or not parts[0].isdigit():
        return None
    return int(parts[0]), parts[1]
