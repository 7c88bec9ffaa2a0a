"""Streaming end to end: pacing, fallback before the first byte, failure and disconnect after."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
from openai import OpenAI

from modelyard.local.stack import LocalStack
from tests.helpers import ledger_items


@pytest.fixture
def client(stack: LocalStack) -> OpenAI:
    return OpenAI(base_url=stack.base_url, api_key=stack.api_key, max_retries=0)  # type: ignore[attr-defined]


def wait_for_ledger(stack: LocalStack, request_id: str, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.poller.drain()
        items = ledger_items(request_id)
        if items:
            return items
        time.sleep(0.05)
    return []


def test_chunks_arrive_as_the_upstream_makes_them(client: OpenAI, sim):
    """deepseek-v4-flash is simulated at 420 ms to first token and 60 tokens/s."""
    sim.configure_now(latency="realistic")
    tokens = 40
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model="deepseek-v4-flash",
        stream=True,
        messages=[{"role": "user", "content": f"count [sim:tokens={tokens}]"}],
    )
    arrivals = [
        time.perf_counter() - started for c in stream if c.choices and c.choices[0].delta.content
    ]
    pacing = (tokens - 1) / 60  # seconds the upstream spends between first and last token
    first, last = arrivals[0], arrivals[-1]
    assert len(arrivals) == tokens
    assert 0.40 <= first < 0.42 + pacing / 2, "first chunk must arrive near the upstream's TTFT"
    assert last - first >= 0.6 * pacing, "chunks must not be buffered until the end"


def test_fallback_before_the_first_byte_is_invisible_to_the_client(client: OpenAI, sim):
    sim.configure_now(faults="gpt-4o=503:1.0")
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"modelyard": {"fallbacks": ["kimi-k2.5"]}},
    )
    chunks = list(raw.parse())
    assert raw.headers["x-modelyard-model"] == "kimi-k2.5"
    meta = (chunks[-1].model_extra or {})["modelyard"]
    assert [a["status"] for a in meta["attempts"]][-1] == "ok"
    assert [a["model"] for a in meta["attempts"]][-1] == "kimi-k2.5"
    assert any(a["error_type"] == "overloaded" for a in meta["attempts"])


def test_mid_stream_failure_ends_with_an_error_event_and_one_partial_ledger_item(
    client: OpenAI, stack: LocalStack, sim
):
    sim.configure_now(faults="qwen3-32b=midstream:1.0")
    raw = client.chat.completions.with_raw_response.create(
        model="qwen3-32b",
        stream=True,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"modelyard": {"fallbacks": ["kimi-k2.5"]}},
    )
    received = []
    with pytest.raises(openai.APIError) as failure:
        for chunk in raw.parse():
            received.append(chunk)
    assert "mid-stream" in str(failure.value)
    assert received, "some chunks reached the client before the failure"
    [entry] = wait_for_ledger(stack, raw.headers["x-modelyard-request-id"])
    assert entry["status"] == "partial"
    assert entry["model"] == "qwen3-32b", "no fallback once the client has bytes"
    assert entry["usage_estimated"] is True
    assert entry["output_tokens"] >= 1 and entry["cost_usd"] > 0


def test_client_disconnect_stops_the_upstream_and_records_partial_usage(stack: LocalStack, sim):
    sim.configure_now(latency="realistic")
    body = {
        "model": "deepseek-v4-flash",
        "stream": True,
        "messages": [{"role": "user", "content": "long answer [sim:tokens=600]"}],
    }
    with (
        httpx.Client(timeout=30) as http,
        http.stream(
            "POST",
            f"{stack.base_url}/chat/completions",
            json=body,  # type: ignore[attr-defined]
            headers={"authorization": f"Bearer {stack.api_key}"},
        ) as response,
    ):
        request_id = response.headers["x-modelyard-request-id"]
        lines = response.iter_lines()
        data = [line for line in (next(lines) for _ in range(6)) if line.startswith("data:")]
        assert json.loads(data[0][5:])["object"] == "chat.completion.chunk"
    # the client hung up after a few chunks of a ten-second answer
    [entry] = wait_for_ledger(stack, request_id)
    assert entry["status"] == "cancelled"
    assert entry["stream"] is True
    assert 1 <= entry["output_tokens"] < 600


def test_a_cut_anthropic_stream_bills_the_exact_input_it_announced(
    client: OpenAI, stack: LocalStack, sim
):
    messages = [{"role": "user", "content": "a question of several words for the model"}]
    whole = client.chat.completions.with_raw_response.create(
        model="claude-4-sonnet", messages=messages, max_tokens=50
    )
    [complete] = wait_for_ledger(stack, whole.headers["x-modelyard-request-id"])
    sim.configure_now(faults="claude-4-sonnet=midstream:1.0")
    raw = client.chat.completions.with_raw_response.create(
        model="claude-4-sonnet", stream=True, messages=messages, max_tokens=50
    )
    with pytest.raises(openai.APIError):
        for _ in raw.parse():
            pass
    [cut] = wait_for_ledger(stack, raw.headers["x-modelyard-request-id"])
    assert cut["status"] == "partial" and cut["usage_estimated"] is True
    # message_start said the input (and its cache reads and writes) exactly: only output guessed
    for field in ("input_tokens", "cached_tokens", "cache_write_tokens"):
        assert cut[field] == complete[field], field
