"""The fallback executor's decisions, with a fake adapter (no network)."""

from __future__ import annotations

import asyncio
from typing import Any

from modelyard.catalog import Model, Provider
from modelyard.cli import _offline_catalog
from modelyard.pricing.prices import TokenUsage
from modelyard.providers.base import ChatResult
from modelyard.providers.errors import ErrorKind, UpstreamError
from modelyard.resilience.executor import Execution, FallbackExecutor
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
