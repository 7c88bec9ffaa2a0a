"""The durable path's attempt handler, called directly (moto cannot run Lambda code)."""

from __future__ import annotations

import pytest

from handlers.provider_attempt import ATTEMPT_ERRORS, handler
from modelyard.local.stack import LocalStack
from modelyard.providers.errors import ErrorKind

BODY = {"messages": [{"role": "user", "content": "hi [sim:tokens=4]"}]}


def test_attempt_returns_the_completion_and_its_cost(stack: LocalStack, sim):
    out = handler({"model": "deepseek-v4-flash", "body": BODY}, None)
    assert out["completion"]["choices"][0]["message"]["content"]
    assert out["completion"]["usage"]["completion_tokens"] == 4
    assert out["cost_usd"] and out["price_version"] == "deepseek-v4-flash@2026-01-01"


def test_attempt_failure_is_named_by_the_taxonomy(stack: LocalStack, sim):
    sim.configure_now(faults="deepseek-v4-flash=429:1.0")
    with pytest.raises(ATTEMPT_ERRORS[ErrorKind.RATE_LIMITED]) as failure:
        handler({"model": "deepseek-v4-flash", "body": BODY}, None)
    assert type(failure.value).__name__ == "rate_limited"
