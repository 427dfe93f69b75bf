"""A refusal that explains itself: the candidate the reader came closest to, marked as not
stated, and the part of the question its sentence does not support.

"No answer" alone leaves a person to guess whether the documents are silent or the reader is
weak. Showing the closest candidate with the question's constraints its sentence lacks ("the
passage says South Ossetian, not Abkhazian") lets them judge, and shows an evaluator why. The
candidate is never presented as an answer: it is below the threshold, so as far as the reader can
tell the documents do not state it.
"""

from __future__ import annotations

from qa.cite.answers import aggregate
from qa.read.constraints import unsupported
from qa.types import Passage, ReaderOutput, Refusal, Unsupported


def explain_refusal(
    question: str, output: ReaderOutput, passages: list[Passage], threshold: float
) -> Refusal | None:
    """Why ``output`` gave no answer at ``threshold``; None when the reader had no candidate (no
    passage, or nothing it could read as an answer)."""
    candidates = aggregate(output, passages, float("-inf"), max_answers=1)
    if not candidates:
        return None
    closest = candidates[0]
    at = (closest.start - closest.sentence_start, closest.end - closest.sentence_start)
    missing = unsupported(question, closest.sentence, at)
    return Refusal(
        closest=closest, unsupported=missing, reason=reason(missing, closest.score, threshold)
    )


def reason(missing: list[Unsupported], score: float, threshold: float) -> str:
    """The refusal in one sentence: the constraints first (names, numbers and ordinals say most),
    then the question's words the sentence lacks, else the confidence against the threshold."""
    named = [u for u in missing if u.kind != "term"]
    if named:
        return _capital("; ".join(u.sentence() for u in named)) + "."
    terms = [u.text for u in missing]
    if terms:
        words = terms[0] if len(terms) == 1 else ", ".join(terms[:-1]) + " or " + terms[-1]
        return f"The closest passage does not say {words} in the sentence of its best candidate."
    return (
        f"The closest candidate's confidence ({score:.0%}) is below the answer threshold "
        f"({threshold:.0%})."
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
