"""Checks on text that crosses into the library from outside (HTTP bodies, command lines, jsonl).

Python strings can hold lone surrogates (``"\\ud800"`` in JSON, an undecodable byte in a command
line argument), which are not Unicode text: the tokenizers, SQLite and every UTF-8 writer refuse
them deep inside a request. They are refused at the door instead, with a message that says where.
"""

from __future__ import annotations

import re
from typing import Any

from qa.errors import BadInput

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


def check_top_k(top_k: Any, maximum: int) -> int:
    """``top_k`` when it is a number of passages the service will retrieve, else ``BadInput``.
    The API's field, the CLI's ``--top-k``/``-k`` and ``QA_TOP_K`` all pass through here, so they
    refuse the same values in the same words."""
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise BadInput("top_k must be an integer")
    if not 1 <= top_k <= maximum:
        raise BadInput(f"top_k must be between 1 and {maximum}")
    return top_k
