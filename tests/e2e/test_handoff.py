"""Usage is handed off before the response's last byte, on every path that reaches an upstream
or the cache: a Lambda sandbox frozen at the last byte loses nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelyard.local.stack import LocalStack
from tests.handoff import HandoffGateway
from tests.helpers import ledger_items

CHAT = {"model": "qwen3-32b", "messages": [{"role": "user", "content": "hi [sim:tokens=6]"}]}
MESSAGES = {
    "model": "claude-4-sonnet",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hi [sim:tokens=6]"}],
}


@pytest.fixture(scope="module")
def handoff(stack: LocalStack) -> Iterator[HandoffGateway]:
    served = HandoffGateway()
    yield served
    served.stop()


@pytest.fixture
def client(handoff: HandoffGateway, stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=handoff.base_url,
        headers={"authorization": f"Bearer {stack.api_key}"},
        timeout=30,
    ) as client:
        yield client


RESPONSES = {"model": "claude-4-sonnet", "input": "Say hello [sim:tokens=6]"}


def post(client: httpx.Client, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return client.post(path, json=body, headers=headers)


def assert_handed_off_first(handoff: HandoffGateway, response: httpx.Response) -> None:
    request_id = response.headers["x-modelyard-request-id"]
    assert handoff.log.handed_off_first(request_id), (
        f"{request_id}: usage handed off at {handoff.log.handed_off.get(request_id)}, "
        f"last byte at {handoff.log.last_byte.get(request_id)}"
    )
    assert len(ledger_items(request_id)) == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat/completions", CHAT),
        ("/chat/completions", {**CHAT, "stream": True}),
        ("/chat/completions", {**CHAT, "stream": True, "stream_options": {"include_usage": True}}),
        ("/messages", MESSAGES),
        ("/messages", {**MESSAGES, "stream": True}),
        ("/embeddings", {"model": "text-embedding-3-small", "input": "some text"}),
        ("/responses", RESPONSES),
        ("/responses", {**RESPONSES, "stream": True}),
        ("/responses", {**RESPONSES, "model": "gpt-4o"}),  # passed through as sent
        ("/responses", {**RESPONSES, "model": "gpt-4o", "stream": True}),
    ],
    ids=[
        "json",
        "sse",
        "sse-usage",
        "messages",
        "messages-sse",
        "embeddings",
        "responses",
        "responses-sse",
        "responses-native",
        "responses-native-sse",
    ],
)
def test_an_answer_is_recorded_before_its_last_byte(
    handoff: HandoffGateway, client: httpx.Client, path: str, body: dict[str, Any]
):
    response = post(client, path, body)
    assert response.status_code == 200, response.text
    assert_handed_off_first(handoff, response)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_cache_hit_is_recorded_before_its_last_byte(
    handoff: HandoffGateway, client: httpx.Client, stream: bool
):
    body = {**CHAT, "temperature": 0, "stream": stream, "seed": 15 + stream}
    assert post(client, "/chat/completions", body).status_code == 200
    while handoff.gateway.cache_writes:  # the first answer's cache write runs in the background
        time.sleep(0.01)
    hit = post(client, "/chat/completions", body)
    assert hit.headers["x-modelyard-cache"] == "hit"
    assert_handed_off_first(handoff, hit)


def test_an_idempotent_first_run_is_recorded_before_its_last_byte(
    handoff: HandoffGateway, client: httpx.Client
):
    response = post(client, "/chat/completions", CHAT, **{"idempotency-key": "handoff-1"})
    assert response.status_code == 200
    assert_handed_off_first(handoff, response)


def test_a_failure_after_an_upstream_call_is_recorded_before_its_last_byte(
    handoff: HandoffGateway, client: httpx.Client, sim
):
    sim.configure_now(faults="kimi-k2.5=500:1.0")
    response = post(client, "/chat/completions", {**CHAT, "model": "kimi-k2.5"})
    assert response.status_code == 502
    assert_handed_off_first(handoff, response)
