"""`Idempotency-Key`: a repeat returns the first answer and is not billed again."""

from __future__ import annotations

import uuid

import httpx

from modelyard.local.stack import LocalStack
from tests.helpers import ledger_items

BODY = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "hi"}]}


def test_a_repeated_key_replays_the_first_response_without_an_upstream_call(
    api: httpx.Client, stack: LocalStack, sim
):
    key = str(uuid.uuid4())
    first = api.post("/chat/completions", json=BODY, headers={"idempotency-key": key})
    assert first.status_code == 200
    assert first.headers["x-modelyard-idempotent-replay"] == "false"
    calls = sim.calls["deepseek-v4-flash"]
    again = api.post("/chat/completions", json=BODY, headers={"idempotency-key": key})
    assert again.status_code == 200
    assert again.headers["x-modelyard-idempotent-replay"] == "true"
    assert again.json() == first.json()
    assert again.headers["x-modelyard-request-id"] == first.headers["x-modelyard-request-id"]
    assert sim.calls["deepseek-v4-flash"] == calls, "the repeat must not reach the upstream"
    stack.poller.drain()
    assert len(ledger_items(first.headers["x-modelyard-request-id"])) == 1


def test_the_same_key_with_another_body_is_refused(api: httpx.Client):
    key = str(uuid.uuid4())
    assert api.post("/chat/completions", json=BODY, headers={"idempotency-key": key}).is_success
    other = {**BODY, "messages": [{"role": "user", "content": "something else"}]}
    reused = api.post("/chat/completions", json=other, headers={"idempotency-key": key})
    assert reused.status_code == 400
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


def test_a_failed_first_attempt_does_not_block_the_key(api: httpx.Client, sim):
    key = str(uuid.uuid4())
    sim.configure_now(faults="deepseek-v4-flash=500:1.0")
    failed = api.post("/chat/completions", json=BODY, headers={"idempotency-key": key})
    assert failed.status_code == 502
    sim.configure_now(faults="")
    retried = api.post("/chat/completions", json=BODY, headers={"idempotency-key": key})
    assert retried.status_code == 200
    assert retried.headers["x-modelyard-idempotent-replay"] == "false"
