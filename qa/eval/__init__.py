"""Evaluation: ``qa eval`` reads SQuAD, our jsonl or BEIR data, asks the library (or a running
service) every question and scores the answers and the ranking the way published numbers are
scored, so a change to the reader or the retriever is judged by the same figures users see.

Owns the data formats (``squad``, which training reads too, and ``formats``), the targets asked
(``targets``: the stages in-process, or a running service), the run, the metrics and the report.
May import: every runtime package (it composes them as ``QAService`` does); the runtime never
imports it, and only ``qa.train`` and the CLI sit above it.
"""

from qa.eval.formats import BeirData, load_dataset
from qa.eval.metrics import exact_match, f1_score, squad_words
from qa.eval.squad import Dataset, Example

__all__ = [
    "BeirData",
    "Dataset",
    "Example",
    "exact_match",
    "f1_score",
    "load_dataset",
    "squad_words",
]
