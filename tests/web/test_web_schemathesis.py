"""Schemathesis against ``/openapi.json`` of the real app (in-process WSGI, real models, the seeds
index): requests generated from the spec, valid and invalid, get no 5xx, and every response
matches the spec (status, headers, body). Writes go to a private copy of the index with the token,
so the write endpoints are exercised past the auth check.

The number of examples per operation is bounded (``EXAMPLES``) so the suite stays fast;
``QA_SCHEMATHESIS_EXAMPLES`` raises it for a longer run.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("QA_SCHEMATHESIS_EXAMPLES", "12"))
TOKEN = "test-token-1234"


#: 413 (a size limit) is as much a refusal of invalid data as 400
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "403",
                    "404",
                    "405",
                    "406",
                    "409",
                    "413",
                    "415",
                    "422",
                    "429",
                ]
            }
        }
    }
)

#: operations whose valid-looking requests the schema cannot fully describe, so a 400 for a
#: schema-valid request is right there: addDocuments (ids unique within a request; an uploaded
#: file must be UTF-8 text), askBatch (questions x top_k at most QA_MAX_BATCH_PASSAGES)
BEYOND_THE_SCHEMA = {"addDocuments", "askBatch"}


@pytest.fixture
def api_schema(make_app: Any) -> Any:
    # writes are limited per client, and the fuzzer is one client sending many; batches are kept
    # small so the examples stay cheap
    app: Flask = make_app(copy=True, api_token=TOKEN, writes_per_minute=0, max_batch_passages=200)
    return schemathesis.openapi.from_wsgi("/openapi.json", app, config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_spec(case: Any) -> None:
    excluded = []
    if case.operation.definition.raw.get("operationId") in BEYOND_THE_SCHEMA:
        excluded.append(positive_data_acceptance)
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=excluded)
