"""Chaos: injected upstream faults never reach a client that has a healthy candidate.

Faults come from the simulated upstreams (`MODELYARD_SIM_FAULTS` syntax, set at run time):
429 with Retry-After, 500, 503, hangs past the attempt timeout, connection resets, malformed
JSON and mid-stream drops. The invariants: every request with a healthy candidate succeeds,
requests with none get a 502 listing the attempts, each attempt appears in the response and
the usage event, and the ledger has exactly one item per request.
"""

from __future__ import annotations

import concurrent.futures
import json

import httpx
import pytest

from modelyard.local.stack import LocalStack
from tests.helpers import ledger_items

CHAOS = (
    "deepseek-v4-flash=429:0.5,qwen3-32b=500:0.5,kimi-k2.5=timeout:0.3,"
    "gpt-4o=reset:0.3,gpt-4o=malformed:0.3,claude-4-sonnet=503:0.5"
)
EVERY_MODEL = ["deepseek-v4-flash", "qwen3-32b", "kimi-k2.5", "gpt-4o", "claude-4-sonnet"]


def chat(
    api: httpx.Client, model: str, fallbacks: list[str], stream: bool = False
) -> httpx.Response:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "hello [sim:tokens=8]"}],
        "modelyard": {"fallbacks": fallbacks},
        "stream": stream,
    }
    return api.post("/chat/completions", json=body)


def test_every_request_with_a_healthy_candidate_succeeds_and_is_billed_once(
    api: httpx.Client, stack: LocalStack, sim
):
    sim.configure_now(faults=CHAOS)  # yi-lightning, the last fallback, stays healthy
    responses = []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(chat, api, EVERY_MODEL[i % 5], [*EVERY_MODEL, "yi-lightning"], i % 3 == 0)
            for i in range(30)
        ]
        responses = [f.result() for f in futures]
    assert [r.status_code for r in responses] == [200] * 30, [
        r.text for r in responses if r.status_code != 200
    ]
    stack.poller.drain()
    for response in responses:
        request_id = response.headers["x-modelyard-request-id"]
        [entry] = ledger_items(request_id)
        attempts = int(response.headers["x-modelyard-attempts"])
        assert len([a for a in entry["attempts"] if a["status"] != "skipped"]) == attempts
        assert entry["attempts"][-1]["status"] == "ok"
        assert entry["status"] == "ok"
        if not response.headers["content-type"].startswith("text/event-stream"):
            meta = response.json()["modelyard"]
            assert meta["attempts"] == [
                {k: a[k] for k in ("model", "provider", "status", "error_type", "latency_ms")}
                for a in entry["attempts"]
            ]


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        ("429", "rate_limited"),
        ("500", "server_error"),
        ("503", "overloaded"),
        ("timeout", "timeout"),
        ("reset", "connection_error"),
        ("malformed", "malformed_response"),
    ],
)
def test_each_fault_falls_back_to_the_next_provider(api: httpx.Client, sim, fault, error_type):
    sim.configure_now(faults=f"gpt-4o={fault}:1.0")
    response = chat(api, "gpt-4o", ["qwen3-32b"])
    assert response.status_code == 200, response.text
    attempts = response.json()["modelyard"]["attempts"]
    assert {a["error_type"] for a in attempts[:-1]} == {error_type}
    assert attempts[-1] == {**attempts[-1], "model": "qwen3-32b", "status": "ok"}


def test_no_healthy_candidate_gets_502_listing_the_attempts(
    api: httpx.Client, stack: LocalStack, sim
):
    sim.configure_now(faults="*=500:1.0")
    response = chat(api, "qwen3-32b", ["kimi-k2.5"])
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "all_upstreams_failed"
    assert {a["model"] for a in error["attempts"]} == {"qwen3-32b", "kimi-k2.5"}
    stack.poller.drain()
    [entry] = ledger_items(response.headers["x-modelyard-request-id"])
    assert entry["status"] == "failed" and entry["cost_usd"] == 0


def test_a_request_the_upstream_rejects_is_not_retried_or_failed_over(api: httpx.Client, sim):
    sim.configure_now(faults="gpt-4o=400:1.0")
    response = chat(api, "gpt-4o", ["qwen3-32b"])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "upstream_bad_request"
    assert [a["error_type"] for a in error["attempts"]] == ["bad_request"]


def sse_chunks(response: httpx.Response) -> list[dict]:
    """Every `data:` frame of an SSE answer but `[DONE]`, parsed (a broken one fails here)."""
    frames = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    return [json.loads(frame) for frame in frames[:-1]]


def test_a_malformed_first_stream_chunk_falls_back_before_the_client_sees_it(
    api: httpx.Client, stack: LocalStack, sim
):
    sim.configure_now(faults="qwen3-32b=malformed:1.0")
    response = chat(api, "qwen3-32b", ["kimi-k2.5"], stream=True)
    assert response.status_code == 200
    assert response.headers["x-modelyard-model"] == "kimi-k2.5"
    chunks = sse_chunks(response)
    assert all(c.get("model") and "error" not in c for c in chunks)
    stack.poller.drain()
    [entry] = ledger_items(response.headers["x-modelyard-request-id"])
    assert entry["status"] == "ok" and entry["model"] == "kimi-k2.5"
    assert [a["error_type"] for a in entry["attempts"] if a["model"] == "qwen3-32b"] == [
        "malformed_response"
    ] * (len(entry["attempts"]) - 1)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_rate_limits_on_every_candidate_answer_429_with_retry_after(
    api: httpx.Client, stack: LocalStack, sim, stream: bool
):
    sim.configure_now(faults="qwen3-32b=429:1.0,kimi-k2.5=429:1.0")
    response = chat(api, "qwen3-32b", ["kimi-k2.5"], stream=stream)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "upstream_rate_limited"
    assert response.headers["retry-after"] == sim.retry_after
    stack.poller.drain()
    [entry] = ledger_items(response.headers["x-modelyard-request-id"])
    assert entry["status"] == "failed" and entry["cost_usd"] == 0


def test_an_open_circuit_on_a_pinned_model_answers_503_with_retry_after(
    api: httpx.Client, stack: LocalStack
):
    breaker = stack.app.state.gateway().executor.breaker
    for _ in range(breaker.threshold):
        breaker.failure("yi-lightning")
    try:
        response = chat(api, "yi-lightning", [])
    finally:
        stack.app.state.gateway().shared_breaker.clear()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "circuit_open"
    assert 0 < int(response.headers["retry-after"]) <= breaker.cool_down
