"""Keeping BM25 current with its store: the index of the store's generation, loaded from its save
or built (and saved for the next process), in the background once the corpus is large."""

from __future__ import annotations

import itertools
import logging
import threading
from pathlib import Path

from qa.retrieve.lexical import LexicalIndex
from qa.store.base import Store

log = logging.getLogger(__name__)

#: Above this many chunks a BM25 rebuild takes seconds (about 15 s per 100k chunks on two cores):
#: searches then keep the previous index while a thread builds the next, rather than all waiting.
#: A stale index only lacks the newest chunks (dense search finds them meanwhile); chunks it holds
#: that were deleted are dropped when passages are fetched, and ids are never reused.
BACKGROUND_REBUILD_CHUNKS = 20_000


class LexicalUpkeep:
    """The BM25 index searches use (``index``), moved to each new generation of ``store``.

    ``directory``: where indexes are saved and looked for (the index folder); None: memory only.
    """

    def __init__(
        self,
        store: Store,
        directory: Path | None = None,
        background_rebuild_chunks: int = BACKGROUND_REBUILD_CHUNKS,
    ) -> None:
        self.store = store
        self.directory = directory
        self.background_rebuild_chunks = background_rebuild_chunks
        self.index = LexicalIndex()
        self._lock = threading.Lock()
        self._rebuilding: threading.Thread | None = None
        # builds are numbered when they start; a slower, older one never replaces a newer one
        self._builds = itertools.count(1)
        self._installed = 0

    def sync(self, generation: int, wait: bool = False) -> None:
        """Move to ``generation`` (the store's current one): at once while the index is small or
        ``wait``, else in a thread while searches keep the previous index."""
        with self._lock:
            if self.index.generation == generation:
                return
            small = self.index.size < self.background_rebuild_chunks
            if wait or self.index.generation < 0 or small:
                self._install(self._fresh(), next(self._builds))
            elif self._rebuilding is None or not self._rebuilding.is_alive():
                self._rebuilding = threading.Thread(
                    target=self._rebuild,
                    args=(next(self._builds),),
                    name="qa-bm25-rebuild",
                    daemon=True,
                )
                self._rebuilding.start()

    def _fresh(self) -> LexicalIndex:
        """The current generation's index: the saved one if there is one, else built (and saved
        for the next process)."""
        if self.directory is not None:
            loaded = LexicalIndex.load(
                self.directory, self.store.generation(), self.store.identity()
            )
            if loaded is not None:
                return loaded
        fresh = LexicalIndex()
        fresh.build(self.store)
        if self.directory is not None:
            try:
                fresh.save(self.directory)
            except OSError as exc:  # e.g. a read-only index: serve from memory
                log.warning("could not save the BM25 index in %s: %s", self.directory, exc)
        return fresh

    def _install(self, fresh: LexicalIndex, build: int) -> None:
        """Caller holds the lock. Searches in flight finish on the index they started with."""
        if build > self._installed:
            self.index = fresh
            self._installed = build

    def _rebuild(self, build: int) -> None:
        try:
            fresh = self._fresh()
        except Exception:  # the previous index keeps serving; the next search tries again
            log.exception("rebuilding the BM25 index failed")
            return
        with self._lock:
            self._install(fresh, build)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a background rebuild finishes; False if it is still running."""
        thread = self._rebuilding
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True
