"""Checks on what crosses into the library from outside (HTTP bodies, command lines, jsonl):
text, and a request's question, ``top_k`` and filters.

Python strings can hold lone surrogates (``"\\ud800"`` in JSON, an undecodable byte in a command
line argument), which are not Unicode text: the tokenizers, SQLite and every UTF-8 writer refuse
them deep inside a request. They are refused at the door instead, with a message that says where.
"""

from __future__ import annotations

import re
from typing import Any

from qa.errors import BadInput, TooLarge
from qa.settings import LimitSettings
from qa.types import Filters

_SURROGATE = re.compile("[\ud800-\udfff]")


def unicode_problem(text: str) -> str | None:
    """Why ``text`` is not valid Unicode text, or None."""
    found = _SURROGATE.search(text)
    if found is None:
        return None
    return (
        f"invalid Unicode: lone surrogate U+{ord(found.group()):04X} at character "
        f"{found.start()} (not UTF-8 text)"
    )


def json_unicode_problem(value: Any, where: str = "") -> str | None:
    """The first lone surrogate anywhere in a decoded JSON value (keys included), located like
    ``documents[3].text``, or None."""
    if isinstance(value, str):
        problem = unicode_problem(value)
        return f"{where or 'value'}: {problem}" if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and (problem := unicode_problem(key)):
                return f"a field name in {where or 'the object'}: {problem}"
            if problem := json_unicode_problem(item, here):
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if problem := json_unicode_problem(item, f"{where}[{index}]"):
                return problem
    return None


def check_text(text: str, what: str) -> str:
    """``text`` itself, or ``BadInput`` naming ``what`` when it is not valid Unicode."""
    if problem := unicode_problem(text):
        raise BadInput(f"{what}: {problem}")
    return text


def check_question(question: Any, limits: LimitSettings) -> str:
    """The question stripped, or ``BadInput``/``TooLarge`` saying what is wrong with it."""
    if not isinstance(question, str):
        raise BadInput("question must be a string")
    question = check_text(question, "question")
    # the limit applies to what was sent (as the spec states it), spaces included
    if len(question) > limits.max_question_chars:
        raise TooLarge(
            f"question has {len(question)} characters; the limit is {limits.max_question_chars}"
        )
    question = question.strip()
    if not question:
        raise BadInput("question is empty")
    return question


def check_top_k(top_k: Any, default: int, limits: LimitSettings) -> int:
    """``top_k`` (``default`` when None) when it is a number of passages the service will
    retrieve, else ``BadInput``. The rule is the limits' own (``LimitSettings.top_k_problem``),
    which ``Settings`` applies to ``--top-k``, ``-k`` and ``QA_TOP_K``: all refuse the same
    values in the same words."""
    if top_k is None:
        return default
    if problem := limits.top_k_problem(top_k):
        raise BadInput(problem)
    return top_k


def check_filters(filters: Filters | dict[str, Any] | None) -> Filters | None:
    if filters is None or isinstance(filters, Filters):
        return filters
    if not isinstance(filters, dict):
        raise BadInput("filters must be an object")
    try:
        return Filters.from_dict(filters)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
