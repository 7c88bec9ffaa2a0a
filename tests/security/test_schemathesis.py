"""Schemathesis against the app's own OpenAPI documents (the public `/openapi.json` and the
admin function's `/admin/openapi.json`), on the local stack's uvicorn.

Every operation gets a bounded number of generated requests, valid ones and ones that break
the schema on purpose (Schemathesis' positive and negative modes), more for the four routes
that take model input; sent with an admin key of its own (so /admin is reached too, and /v1
as that key's tenant). No answer may be a 5xx, and every answer must match what the document
says of its status, content type and body. `pytest tests/security/test_schemathesis.py -s`
prints how many cases ran.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from modelyard.auth.admin import create_key
from modelyard.local.stack import LocalStack
from tests.security.support import root_url

MAX_EXAMPLES = 10
#: the routes that take model input get more (each mode: positive and negative)
MAX_EXAMPLES_FOR = {
    "POST /v1/chat/completions": 35,
    "POST /v1/messages": 35,
    "POST /v1/responses": 35,
    "POST /v1/embeddings": 20,
}
DOCUMENTS = ("/openapi.json", "/admin/openapi.json")
PUBLIC_OPERATIONS = {
    "POST /v1/chat/completions",
    "POST /v1/messages",
    "POST /v1/embeddings",
    "POST /v1/feedback",
    "GET /v1/models",
    "GET /v1/models/{model_id}",
    "POST /v1/messages/count_tokens",
    "GET /v1/usage",
    "GET /v1/jobs/{job_id}",
    "POST /v1/responses",
    "GET /v1/responses/{response_id}",
    "DELETE /v1/responses/{response_id}",
    "GET /v1/responses/{response_id}/input_items",
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_key(stack: LocalStack) -> str:
    secret, _ = create_key(stack.config, stack.pepper, "fuzz", name="schemathesis", admin=True)
    return secret


def test_no_5xx_and_no_answer_that_breaks_the_schema(stack: LocalStack, fuzz_key: str) -> None:
    headers = {"authorization": f"Bearer {fuzz_key}"}
    failures: dict[str, str] = {}
    operations = [
        result.ok()
        for document in DOCUMENTS
        for result in schemathesis.openapi.from_url(root_url(stack) + document).get_all_operations()
    ]
    labels = {operation.label for operation in operations}
    assert labels >= PUBLIC_OPERATIONS
    assert len(labels) == len(operations) >= 15  # /v1 and /admin
    with_bodies = {operation.label for operation in operations if list(operation.body)}
    assert with_bodies >= {
        "POST /v1/chat/completions",
        "POST /v1/feedback",
        "POST /v1/messages",
        "POST /v1/embeddings",
        "POST /v1/responses",
        "POST /admin/keys",
        "PUT /admin/tenants/{tenant}",
    }
    cases = 0
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=MAX_EXAMPLES_FOR.get(operation.label, MAX_EXAMPLES),
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            nonlocal cases
            cases += 1
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:  # nothing in the operation can be made invalid (GET /v1/models)
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (Exception, BaseExceptionGroup) as exc:  # report every operation that fails
            failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]
    print(
        f"\nschemathesis: {cases} cases over {len(operations)} operations, {len(failures)} failed"
    )
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())
