"""Schemathesis against ``/openapi.json`` of the real app (in-process WSGI, real models, the seeds
index): requests generated from the spec, valid ones and invalid ones, get no 5xx, and every
response matches the spec (status, headers, body). Writes go to a private copy of the index with
the token, so the write endpoints are exercised past the auth check.

The number of examples per operation and mode is bounded (``EXAMPLES``) so the suite stays fast;
``QA_SCHEMATHESIS_EXAMPLES`` raises it for a longer run. (Each operation is driven through
``APIOperation.as_strategy`` rather than schemathesis' pytest plugin, whose lazy fixture loading
does not work with pytest 9.)
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from qa.web.ops import openapi_spec

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("QA_SCHEMATHESIS_EXAMPLES", "10"))
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

OPERATIONS = [
    (
        path,
        method.upper(),
        op.get("operationId", ""),
        "requestBody" in op
        or any(p["in"] != "path" for p in [*item.get("parameters", []), *op.get("parameters", [])]),
    )
    for path, item in openapi_spec()["paths"].items()
    for method, op in item.items()
    if method in {"get", "post", "put", "delete", "patch"}
]
CASES = [
    pytest.param(path, method, op_id, mode, id=f"{method} {path} {mode.value}")
    for path, method, op_id, has_input in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # a request with nothing but a free-form path segment cannot be made invalid
    if has_input or mode is GenerationMode.POSITIVE
]


@pytest.fixture(scope="module")
def api_schema(
    seeds_service: Any, seeds_index_dir: Any, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    import shutil

    from qa.service import QAService
    from qa.web import create_app

    index_dir = tmp_path_factory.mktemp("schemathesis") / "index"
    shutil.copytree(seeds_index_dir, index_dir)
    # writes are limited per client, and the fuzzer is one client sending many; batches are kept
    # small so the examples stay cheap
    settings_ = seeds_service.settings.replace(
        index_dir=index_dir, api_token=TOKEN, writes_per_minute=0, max_batch_passages=200
    )
    svc = QAService(settings_, reader=seeds_service.reader, embedder=seeds_service.embedder)
    app: Flask = create_app(settings_, svc)
    yield schemathesis.openapi.from_wsgi("/openapi.json", app, config=CONFIG)
    svc.close()


@pytest.mark.parametrize(("path", "method", "operation_id", "mode"), CASES)
def test_api_conforms_to_its_spec(
    api_schema: Any, path: str, method: str, operation_id: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    excluded = [positive_data_acceptance] if operation_id in BEYOND_THE_SCHEMA else []
    tried = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        tried.append(case)
        case.call_and_validate(
            headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=excluded
        )

    run()
    assert tried, f"no example generated for {method} {path} ({mode.value})"
