"""Traces: GenAI attribute names, a span per request and per attempt, none of it when off."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from modelyard import tracing
from modelyard.pricing.prices import TokenUsage
from modelyard.providers.base import ChatResult

PROMPT = "my secret prompt about the merger"


class Span:
    def __init__(self, name: str, attributes: dict[str, Any] | None) -> None:
        self.name = name
        self.attributes = dict(attributes or {})

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value


class RecordingTracer:
    def __init__(self) -> None:
        self.spans: list[Span] = []

    @contextlib.contextmanager
    def start_as_current_span(
        self, name: str, attributes: dict[str, Any] | None = None, **_: Any
    ) -> Iterator[Span]:
        span = Span(name, attributes)
        self.spans.append(span)
        yield span


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingTracer]:
    monkeypatch.setenv("MODELYARD_TRACING", "on")
    tracing.enabled.cache_clear()
    recorder = RecordingTracer()
    tracing.use_tracer(recorder)
    yield recorder
    tracing.enabled.cache_clear()
    tracing._tracer.clear()


async def _answer() -> ChatResult:
    return ChatResult(
        body={"choices": [{"message": {"content": "an answer"}}]},
        usage=TokenUsage(input_tokens=12, output_tokens=34),
    )


def test_an_attempt_span_uses_genai_names_and_carries_no_text(spans: RecordingTracer):
    result = asyncio.run(tracing.attempt("deepseek-v4-flash", "deepseek", _answer()))
    assert result.usage.output_tokens == 34
    [span] = spans.spans
    assert span.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "deepseek",
        "gen_ai.request.model": "deepseek-v4-flash",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 34,
    }
    assert "an answer" not in str(span.attributes)


def test_a_request_span_takes_model_task_and_cost_from_the_response(spans: RecordingTracer):
    inner = FastAPI()

    @inner.post("/v1/chat/completions")
    async def chat() -> JSONResponse:
        headers = {"x-modelyard-model": "qwen3-32b", "x-modelyard-task": "coding"}
        return JSONResponse({"ok": True}, headers=headers | {"x-modelyard-cost-usd": "0.0001"})

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=tracing.RequestSpans(inner))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/v1/chat/completions", json={"messages": PROMPT})

    assert asyncio.run(call()).status_code == 200
    [span] = spans.spans
    assert span.name == "POST /v1/chat/completions"
    assert span.attributes["gen_ai.response.model"] == "qwen3-32b"
    assert span.attributes["modelyard.task"] == "coding"
    assert span.attributes["modelyard.cost_usd"] == "0.0001"
    assert span.attributes["http.response.status_code"] == 200
    assert PROMPT not in str(span.attributes)


def test_with_tracing_off_no_tracer_is_made_and_no_middleware_added(
    monkeypatch: pytest.MonkeyPatch,
):
    from modelyard.api.app import create_app

    monkeypatch.delenv("MODELYARD_TRACING", raising=False)
    tracing.enabled.cache_clear()
    try:
        result = asyncio.run(tracing.attempt("qwen3-32b", "dashscope", _answer()))
        assert result.usage.input_tokens == 12
        assert tracing._tracer == []  # OpenTelemetry's API never asked for a tracer
        middleware = {m.cls for m in create_app().user_middleware}
        assert tracing.RequestSpans not in middleware
    finally:
        tracing.enabled.cache_clear()
