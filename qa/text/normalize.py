"""Answer text compared by its words: SQuAD's normalisation, its token F1, and whole-word
containment. One rule set serves grouping answers by meaning (the reader, citing) and scoring
them (evaluation); only the punctuation differs, named where it is chosen."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
#: what the official SQuAD script strips: ASCII punctuation only, so that our figures can be put
#: next to published ones
SQUAD_PUNCTUATION = frozenset(string.punctuation)
#: news text quotes and dashes typographically: "“soft” annexation" and "soft annexation" state
#: one answer
PUNCTUATION = SQUAD_PUNCTUATION | frozenset("‘’“”«»–—…")


def normalize_answer(text: str, punctuation: frozenset[str] = PUNCTUATION) -> str:
    """SQuAD's normalization: lowercase, no ``punctuation``, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: Sequence[str], gold: Sequence[str]) -> float:
    """SQuAD's token F1 of two already normalized token lists; empty matches only empty."""
    if not prediction or not gold:
        return float(list(prediction) == list(gold))
    same = sum((Counter(prediction) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(prediction), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def contains_words(outer: Sequence[str], inner: Sequence[str]) -> bool:
    """``inner`` occurs in ``outer`` as a run of whole words."""
    n = len(inner)
    if not 0 < n <= len(outer):
        return False
    # the reader groups every pair of candidate spans of a question with this: compare a run
    # only where its first word matches
    first, whole = inner[0], tuple(inner)
    return any(
        outer[i] == first and tuple(outer[i : i + n]) == whole for i in range(len(outer) - n + 1)
    )
