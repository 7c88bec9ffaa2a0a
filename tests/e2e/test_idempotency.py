"""`Idempotency-Key`: a repeat returns the first answer and is not billed again."""

from __future__ import annotations

import uuid

import httpx
import pytest

from modelyard.local.stack import LocalStack
from tests.helpers import ledger_items

BODY = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "hi"}]}


def answer(response: httpx.Response) -> object:
    stream = response.headers["content-type"].startswith("text/event-stream")
    return response.text if stream else response.json()


@pytest.mark.parametrize(
    "body",
    [BODY, {**BODY, "stream": True, "stream_options": {"include_usage": True}}],
    ids=["json", "sse"],
)
def test_a_repeated_key_replays_the_first_response_without_an_upstream_call(
    api: httpx.Client, stack: LocalStack, sim, body: dict
):
    key = str(uuid.uuid4())
    first = api.post("/chat/completions", json=body, headers={"idempotency-key": key})
    assert first.status_code == 200
    assert first.headers["x-modelyard-idempotent-replay"] == "false"
    calls = sim.calls["deepseek-v4-flash"]
    again = api.post("/chat/completions", json=body, headers={"idempotency-key": key})
    assert again.status_code == 200
    assert again.headers["x-modelyard-idempotent-replay"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert answer(again) == answer(first)  # a stream is replayed as the SSE it sent
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


def test_a_repeat_while_the_first_stream_is_in_flight_is_409(
    api: httpx.Client, stack: LocalStack, sim
):
    key = str(uuid.uuid4())
    body = {**BODY, "stream": True}
    sim.configure_now(latency="realistic")
    with api.stream(
        "POST", "/chat/completions", json=body, headers={"idempotency-key": key}
    ) as first:
        assert first.status_code == 200
        repeat = api.post("/chat/completions", json=body, headers={"idempotency-key": key})
        assert repeat.status_code == 409
        assert repeat.json()["error"]["code"] == "idempotent_request_in_progress"
        first.read()


def test_a_replay_is_refused_to_a_key_that_may_not_use_the_model(
    api: httpx.Client, stack: LocalStack
):
    from modelyard.auth.admin import create_key

    key = str(uuid.uuid4())
    assert api.post("/chat/completions", json=BODY, headers={"idempotency-key": key}).is_success
    narrow, _ = create_key(stack.config, stack.pepper, "local", allowed_models=("qwen3-32b",))
    replay = httpx.post(
        f"{stack.base_url}/chat/completions",  # type: ignore[attr-defined]
        json=BODY,
        headers={"authorization": f"Bearer {narrow}", "idempotency-key": key},
    )
    assert replay.status_code == 403
