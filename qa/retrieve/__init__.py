"""Retrieve: a question into ranked passages. Dense search in the store and BM25 (``lexical``, kept
at the store's generation by ``upkeep``), fused (``fusion``) by the ``Retriever``, which also
fetches each passage's document metadata and page; ``dense`` gives passages found otherwise their
cosine.

May import: ``qa.index`` (the query encoder), ``qa.store`` (the ``Store`` protocol) and the
foundation; never the reader or what comes after it."""

from qa.retrieve.dense import with_dense_scores
from qa.retrieve.fusion import FUSIONS, fuse
from qa.retrieve.retriever import Retriever

__all__ = ["FUSIONS", "Retriever", "fuse", "with_dense_scores"]
