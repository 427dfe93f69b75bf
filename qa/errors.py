"""Errors the library raises on purpose; the HTTP layer maps each to a status code."""

from __future__ import annotations


class QAError(Exception):
    """Base class. ``code`` is a stable machine-readable name, ``status`` the HTTP status."""

    code = "error"
    status = 500


class BadInput(QAError, ValueError):
    code = "bad_request"
    status = 400


class TooLarge(BadInput):
    code = "too_large"
    status = 413


class DocumentNotFound(QAError, KeyError):
    code = "not_found"
    status = 404

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"unknown document: {doc_id!r}")
        self.doc_id = doc_id

    def __str__(self) -> str:
        return str(self.args[0])


class IndexError_(QAError):
    """The index on disk cannot be used as it is (wrong version, other model, damaged files)."""

    code = "index_error"
    status = 500


class IndexVersionMismatch(IndexError_):
    code = "index_version"


class ModelMismatch(IndexError_):
    code = "model_mismatch"


class EmptyIndex(QAError):
    code = "empty_index"
    status = 409


class Busy(QAError):
    """Another writer holds the index and did not finish in time; nothing was written."""

    code = "busy"
    status = 409


class StoreUnavailable(QAError):
    """The store cannot be reached or did not answer in time (a database outage): nothing can be
    read or written now, and trying again later may work, so the HTTP layer answers 503 with
    ``Retry-After``. Messages name no host, path or driver error: they reach clients."""

    code = "store_unavailable"
    status = 503
    #: seconds a client is told to wait before trying again
    retry_after = 2
