"""The fallback executor's decisions, with a fake adapter (no network)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import Any

import pytest

from modelyard.catalog import Model, Provider
from modelyard.cli import _offline_catalog
from modelyard.errors import CircuitOpen, GatewayError, RateLimited, UpstreamFailed
from modelyard.pricing.prices import TokenUsage
from modelyard.providers.base import ChatResult, StreamState
from modelyard.providers.errors import ErrorKind, UpstreamError
from modelyard.resilience.breaker import CircuitBreaker
from modelyard.resilience.executor import Execution, FallbackExecutor
from modelyard.resilience.retry import RetryPolicy
from modelyard.routing.planner import RequestFeatures, RouteRequest, plan_route


class TooLongFor:
    """Refuses the request as too long for the models named; answers on the others."""

    def __init__(self, *refusing: str) -> None:
        self.refusing = refusing
        self.called: list[str] = []

    async def chat(self, provider: Provider, model: Model, body: dict[str, Any]) -> ChatResult:
        self.called.append(model.id)
        if model.id in self.refusing:
            raise UpstreamError(ErrorKind.CONTEXT_LENGTH_EXCEEDED, "maximum context length")
        return ChatResult({"choices": []}, TokenUsage(10, 2))


def test_a_context_length_error_falls_back_only_to_larger_windows():
    body = {
        "model": "deepseek-v4-flash",
        "messages": [{"role": "user", "content": "hi"}],
        "modelyard": {"fallbacks": ["yi-lightning", "claude-4-sonnet"]},
    }
    plan = plan_route(
        RouteRequest.from_body(body), RequestFeatures.from_chat(body), _offline_catalog()
    )
    adapter = TooLongFor("deepseek-v4-flash")
    executor = FallbackExecutor(lambda wire: adapter)  # type: ignore[arg-type, return-value]
    execution = Execution()
    candidate, _ = asyncio.run(executor.chat(plan.candidates, body, execution))
    assert candidate.model.id == "claude-4-sonnet"  # 200k after deepseek's 128k refused
    assert adapter.called == ["deepseek-v4-flash", "claude-4-sonnet"]
    assert [(a.model, a.status, a.error_type) for a in execution.attempts] == [
        ("deepseek-v4-flash", "error", "context_length_exceeded"),
        ("yi-lightning", "skipped", "context_too_small"),  # 16k could not hold it either
        ("claude-4-sonnet", "ok", None),
    ]


class Refusing:
    """Fails every call to the models named with the given error; answers on the others."""

    def __init__(self, errors: dict[str, UpstreamError | type[BaseException]]) -> None:
        self.errors = errors

    async def chat(self, provider: Provider, model: Model, body: dict[str, Any]) -> ChatResult:
        error = self.errors.get(model.id)
        if isinstance(error, UpstreamError):
            raise error
        if error is not None:
            raise error()
        return ChatResult({"choices": []}, TokenUsage(10, 2))


def run(
    adapter: Any, model: str, fallbacks: list[str], breaker: CircuitBreaker | None = None
) -> tuple[Any, Execution]:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "modelyard": {"fallbacks": fallbacks},
    }
    plan = plan_route(
        RouteRequest.from_body(body), RequestFeatures.from_chat(body), _offline_catalog()
    )
    no_retries = RetryPolicy(retriers=())
    executor = FallbackExecutor(lambda wire: adapter, retry_policy=no_retries, breaker=breaker)
    execution = Execution()
    try:
        return asyncio.run(executor.chat(plan.candidates, body, execution)), execution
    except GatewayError as exc:
        return exc, execution


def rate_limited(seconds: float) -> UpstreamError:
    return UpstreamError(ErrorKind.RATE_LIMITED, "slow down", status=429, retry_after=seconds)


def test_rate_limits_on_every_candidate_answer_429_with_the_soonest_retry_after():
    adapter = Refusing({"gpt-4o": rate_limited(30), "qwen3-32b": rate_limited(12)})
    error, _ = run(adapter, "gpt-4o", ["qwen3-32b"])
    assert isinstance(error, RateLimited)
    assert error.code == "upstream_rate_limited"
    assert error.headers["retry-after"] == "12"


def test_a_rate_limit_beside_an_outage_is_still_an_upstream_failure():
    server_error = UpstreamError(ErrorKind.SERVER_ERROR, "boom", status=500)
    error, _ = run(
        Refusing({"gpt-4o": rate_limited(30), "qwen3-32b": server_error}), "gpt-4o", ["qwen3-32b"]
    )
    assert isinstance(error, UpstreamFailed)


def test_an_open_circuit_on_a_pinned_model_answers_503_with_retry_after():
    now = [1000.0]
    breaker = CircuitBreaker(threshold=1, cool_down=30, clock=lambda: now[0])
    breaker.failure("gpt-4o")
    now[0] += 10
    error, execution = run(Refusing({}), "gpt-4o", [], breaker)
    assert isinstance(error, CircuitOpen) and error.status == 503
    assert error.headers["retry-after"] == "20"
    assert not execution.reached_upstream


@pytest.mark.parametrize(
    "outcome",
    [
        UpstreamError(ErrorKind.CONTENT_FILTERED, "refused"),
        UpstreamError(ErrorKind.BAD_REQUEST, "bad"),
        UpstreamError(ErrorKind.CONTEXT_LENGTH_EXCEEDED, "too long"),
        asyncio.CancelledError,
    ],
    ids=["content_filtered", "bad_request", "context_length_exceeded", "cancelled"],
)
def test_every_outcome_of_a_half_open_trial_ends_it(outcome: Any):
    now = [1000.0]
    breaker = CircuitBreaker(threshold=1, cool_down=30, clock=lambda: now[0])
    breaker.failure("gpt-4o")
    now[0] += 31  # half-open: one trial may go
    assert breaker.allows("gpt-4o")
    with contextlib.suppress(BaseException):
        run(Refusing({"gpt-4o": outcome}), "gpt-4o", [], breaker)
    assert breaker.allows("gpt-4o"), "the next request must be able to try again"


class Simultaneous:
    """Both hedged candidates answer in the same loop turn: the backup's call releases both."""

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.closed: list[str] = []

    async def chat(self, provider: Provider, model: Model, body: dict[str, Any]) -> ChatResult:
        if model.id == "qwen3-32b":
            self.go.set()
        await self.go.wait()
        return ChatResult({"choices": [], "model": model.id}, TokenUsage(10, len(model.id)))

    async def stream(
        self, provider: Provider, model: Model, body: dict[str, Any], state: StreamState
    ) -> Any:
        try:
            if model.id == "qwen3-32b":
                self.go.set()
            await self.go.wait()
            yield b'{"choices":[]}'
            await asyncio.sleep(3600)
        finally:
            self.closed.append(model.id)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_hedged_answers_in_one_loop_turn_serve_the_primary_and_close_the_other(stream: bool):
    body = {
        "model": "deepseek-v4-flash",
        "messages": [{"role": "user", "content": "hi"}],
        "modelyard": {"fallbacks": ["qwen3-32b"]},
    }
    plan = plan_route(
        RouteRequest.from_body(body), RequestFeatures.from_chat(body), _offline_catalog()
    )
    fast = [replace(c, estimated_latency_ms=1, expected_ttft_ms=1) for c in plan.candidates]
    adapter = Simultaneous()
    executor = FallbackExecutor(lambda wire: adapter)  # type: ignore[arg-type, return-value]
    execution = Execution()

    async def go() -> str:
        if stream:
            start = await executor.open_stream(fast, body, execution, hedge=True)
            await start.chunks.aclose()  # type: ignore[attr-defined]
            return start.candidate.model.id
        candidate, _ = await executor.chat(fast, body, execution, hedge=True)
        return candidate.model.id

    assert asyncio.run(go()) == "deepseek-v4-flash"
    lost = [a for a in execution.attempts if a.model == "qwen3-32b"]
    assert [(a.status, a.error_type) for a in lost] == [("cancelled", "hedge_lost")]
    if stream:
        assert "qwen3-32b" in adapter.closed
    else:
        assert lost[0].usage == TokenUsage(10, len("qwen3-32b")), "its exact usage is priced"
