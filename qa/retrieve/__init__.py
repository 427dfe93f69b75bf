"""(described with the layering)"""

from qa.retrieve.dense import with_dense_scores
from qa.retrieve.fusion import FUSIONS, fuse
from qa.retrieve.retriever import Retriever

__all__ = ["FUSIONS", "Retriever", "fuse", "with_dense_scores"]
