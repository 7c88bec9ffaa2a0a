"""Log lines carry the request id and never a key; prompts only for tenants that opted in.

Captured from the production handler itself (`logs.configure_logging`, the Powertools JSON
handler the Lambda entry points install), pointed at a buffer for the test.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from modelyard import logs
from modelyard.local.stack import LocalStack
from tests.security.support import client_for

#: attributes Powertools sets on the `logging.Logger` it configured (so it configures it once)
POWERTOOLS_MARKERS = (
    "init",
    "powertools_handler",
    "powertools_buffer_config",
    "powertools_buffer_cache",
)
PROMPT = "zebra-quokka-4417 is my distinctive prompt"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    service = logging.getLogger("modelyard")
    saved = (list(service.handlers), service.propagate, service.level)
    buffer = io.StringIO()
    logs.configure_logging(stream=buffer)
    try:
        yield buffer
    finally:
        service.handlers[:] = saved[0]
        service.propagate, service.level = saved[1], saved[2]
        for marker in POWERTOOLS_MARKERS:
            if hasattr(service, marker):
                delattr(service, marker)
        logs._configured = None


def _lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_no_line_holds_a_key_or_a_prompt_and_every_request_line_its_id(
    stack: LocalStack, admin, new_key, captured: io.StringIO
):
    created = new_key()
    body = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": PROMPT}]}
    ids = []
    with client_for(stack, created["key"]) as client:
        for request in (body, {**body, "stream": True}, {**body, "model": "no-such-model"}):
            response = client.post("/v1/chat/completions", json=request)
            ids.append(response.headers["x-modelyard-request-id"])
    with client_for(stack, "sk-my-" + "x" * 43) as stranger:  # an unknown key is not logged
        assert stranger.get("/v1/models").status_code == 401
    # whatever a module logs, a key or the pepper never reaches the output
    logging.getLogger("modelyard.test").warning(
        "oops %s / Bearer %s / %s", created["key"], created["key"], stack.pepper
    )

    text = captured.getvalue()
    lines = _lines(captured)
    assert len(lines) >= 5
    assert created["key"] not in text and "x" * 43 not in text and stack.pepper not in text
    assert stack.api_key not in text and stack.admin_key not in text
    assert PROMPT not in text and "zebra-quokka" not in text
    assert "[REDACTED]" in text
    access = [line for line in lines if line.get("message", "").startswith("req_")]
    assert {line["request_id"] for line in access} >= set(ids)
    assert all(line["message"].startswith(line["request_id"]) for line in access)


def test_a_tenant_that_opts_in_gets_its_prompts_logged_and_still_no_key(
    stack: LocalStack, admin, new_key, captured: io.StringIO
):
    created = new_key()
    opted = admin.put(f"/admin/tenants/{created['tenant']}", json={"log_prompts": True})
    assert opted.json()["log_prompts"] is True
    body = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": PROMPT}]}
    with client_for(stack, created["key"]) as client:
        response = client.post("/v1/chat/completions", json=body)
    request_id = response.headers["x-modelyard-request-id"]
    exchanges = [line for line in _lines(captured) if line.get("message") == "exchange"]
    (exchange,) = exchanges
    assert exchange["request_id"] == request_id and exchange["tenant"] == created["tenant"]
    assert PROMPT in json.dumps(exchange["messages"])
    assert created["key"] not in captured.getvalue()


def test_redaction_scrubs_key_patterns_and_registered_secrets():
    logs.register_secret("a-provider-credential-123")
    text = logs.redact(
        "sk-proj-abcdef123456 Authorization: Bearer abc.def-ghi_jkl AKIAABCDEFGHIJKLMNOP "
        "a-provider-credential-123 and a normal sentence"
    )
    assert text.count("[REDACTED]") == 4
    assert text.endswith("and a normal sentence")
