"""Hedging: a slow first candidate is raced by the next; the loser is cancelled. The tenant
pays for the answer it got; the ledger prices every attempt at what its provider invoices."""

from __future__ import annotations

import httpx
import pytest

from modelyard.local.stack import LocalStack
from tests.helpers import ledger_items


@pytest.mark.parametrize("stream", [False, True])
def test_a_hanging_first_candidate_is_raced_and_cancelled(
    api: httpx.Client, stack: LocalStack, sim, stream: bool
):
    sim.configure_now(latency="realistic", faults="deepseek-v4-flash=timeout:1.0")
    body = {
        "model": "deepseek-v4-flash",
        "max_tokens": 8,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi [sim:tokens=8]"}],
        "modelyard": {"fallbacks": ["qwen3-32b"], "hedge": True},
    }
    response = api.post("/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["x-modelyard-model"] == "qwen3-32b"
    stack.poller.drain()
    [entry] = ledger_items(response.headers["x-modelyard-request-id"])
    first = [
        (a["status"], a["error_type"])
        for a in entry["attempts"]
        if a["model"] == "deepseek-v4-flash"
    ]
    backup = [
        (a["status"], a["error_type"]) for a in entry["attempts"] if a["model"] == "qwen3-32b"
    ]
    assert backup == [("ok", None)]
    # qwen started at 1.5x deepseek's 420 ms TTFT, not after deepseek's two 1 s timeouts
    assert first and set(first) <= {("error", "timeout"), ("cancelled", "hedge_lost")}
    assert first.count(("error", "timeout")) <= 1
    assert entry["model"] == "qwen3-32b" and entry["status"] == "ok"
    assert sim.calls["qwen3-32b"] == 1
    # the abandoned attempts read the prompt: estimated, marked, and priced above zero
    for attempt in entry["attempts"]:
        if attempt["model"] == "deepseek-v4-flash":
            assert attempt["usage_estimated"] is True and attempt["cost_usd"] > 0
            assert attempt["input_tokens"] > 0
    [served] = [a for a in entry["attempts"] if a["status"] == "ok"]
    assert served["cost_usd"] == entry["cost_usd"], "the tenant pays the served answer"
    assert entry["provider_cost_usd"] == sum(a["cost_usd"] for a in entry["attempts"])
    assert entry["provider_cost_usd"] > entry["cost_usd"]


def test_without_hedging_the_request_waits_for_the_attempt_timeout(api: httpx.Client, sim):
    sim.configure_now(faults="deepseek-v4-flash=timeout:1.0")
    body = {
        "model": "deepseek-v4-flash",
        "messages": [{"role": "user", "content": "hi"}],
        "modelyard": {"fallbacks": ["qwen3-32b"], "hedge": False},
    }
    response = api.post("/chat/completions", json=body)
    attempts = response.json()["modelyard"]["attempts"]
    assert [a["error_type"] for a in attempts if a["model"] == "deepseek-v4-flash"] == [
        "timeout",
        "timeout",
    ]
    assert attempts[-1]["model"] == "qwen3-32b"
