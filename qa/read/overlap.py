"""How much of a question a passage mentions: the share of the question's content words (spaCy's
English stop words removed, Snowball stems compared) that the passage contains.

A question whose answer the index does not hold still retrieves the closest passages there are,
and a span model reads a confident-looking answer out of them ("When did the Huguenots reach
the Cape?" over a passage on Lutheran exiles). Dense similarity only says the passage is on the
topic; the names, dates and terms the question is about are missing from it, and that is what
these shares measure, for the passage and for the sentences around the answer.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from qa.text.sentences import import_spacy

_WORD = re.compile(r"\w+")
#: characters either side of an answer that count as its neighbourhood: about a sentence
NEAR_CHARS = 200
_local = threading.local()  # PyStemmer objects are not safe to share between threads


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    import_spacy()  # spaCy's way in, which keeps torch out (see qa.text.sentences)
    from spacy.lang.en.stop_words import STOP_WORDS  # a word list: no pipeline loads

    return frozenset(STOP_WORDS)


def _stemmer() -> Any:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def content_terms(text: str) -> frozenset[str]:
    """Stems of the words of ``text`` that are not stop words."""
    stop = _stop_words()
    words = [w for w in _WORD.findall(text.lower()) if w not in stop]
    return frozenset(_stemmer().stemWords(words))


def coverage(question: frozenset[str], text: str) -> float:
    """The share of ``question``'s terms that ``text`` contains; 1 when it has none to miss."""
    if not question:
        return 1.0
    return len(question & content_terms(text)) / len(question)


def near(text: str, start: int, end: int) -> str:
    """The neighbourhood of ``text[start:end]`` whose words an answer's context is judged by."""
    return text[max(0, start - NEAR_CHARS) : end + NEAR_CHARS]
