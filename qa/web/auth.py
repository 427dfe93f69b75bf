"""The bearer token that guards writes (and ``/metrics`` when one is set)."""

from __future__ import annotations

import hmac

from flask import request

from qa.web.errors import ApiError


def token_matches(header: str, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` as a bearer token. The comparison
    takes the same time wherever the first wrong character is, so timing the answers does not
    reveal the token one character at a time."""
    scheme, _, given = header.partition(" ")
    # both sides as bytes: compare_digest refuses str with non-ASCII characters
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8")
    )


def require_token(token: str | None, what: str = "writes") -> None:
    """403 when no token is configured, 401 unless the request carries it."""
    if not token:
        raise ApiError(403, f"{what} are disabled: the server has no API token (set QA_API_TOKEN)")
    if not token_matches(request.headers.get("Authorization", ""), token):
        raise ApiError(
            401,
            "missing or wrong token: send 'Authorization: Bearer <QA_API_TOKEN>'",
            headers={"WWW-Authenticate": 'Bearer realm="qa"'},
        )
