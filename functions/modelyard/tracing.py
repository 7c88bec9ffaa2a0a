"""Traces for operators: one span per request and one per upstream attempt, off by default.

`MODELYARD_TRACING=on` turns them on. Spans go to the OpenTelemetry API (an SDK in the
environment, such as the ADOT Lambda layer, exports them to X-Ray); their attribute names are
OpenTelemetry's GenAI semantic conventions (`gen_ai.system`, `gen_ai.request.model`,
`gen_ai.usage.input_tokens`, ...). Off, nothing of OpenTelemetry is imported and an attempt
costs one extra await. Spans carry models, providers, token counts, status and cost, never
prompt or completion text, whatever the tenant's prompt logging says.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

T = TypeVar("T")
_tracer: list[Any] = []  # the tracer in use, made on first use (or given by `use_tracer`)

#: response headers (CONTRACT.md) and the span attributes they become
_RESPONSE_ATTRIBUTES = {
    b"x-modelyard-model": "gen_ai.response.model",
    b"x-modelyard-provider": "gen_ai.system",
    b"x-modelyard-task": "modelyard.task",
    b"x-modelyard-attempts": "modelyard.attempts",
    b"x-modelyard-cost-usd": "modelyard.cost_usd",
    b"x-modelyard-request-id": "modelyard.request_id",
}


@cache
def enabled() -> bool:
    return os.environ.get("MODELYARD_TRACING", "off").lower() in ("on", "1", "true")


def use_tracer(tracer: Any) -> None:
    """Send spans to `tracer` (an OpenTelemetry Tracer): tests, or a process's own SDK."""
    _tracer[:] = [tracer]


def tracer() -> Any:
    if not _tracer:
        from opentelemetry import trace

        _tracer.append(trace.get_tracer("modelyard"))
    return _tracer[0]


async def attempt(model: str, provider: str, call: Awaitable[T]) -> T:
    """Await one upstream attempt, in a span of its own when tracing is on; a failure is
    recorded on the span (OpenTelemetry records the exception and sets the error status)."""
    if not enabled():
        return await call
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": provider,
        "gen_ai.request.model": model,
    }
    with tracer().start_as_current_span(f"chat {model}", attributes=attributes) as span:
        result = await call
        usage = getattr(result, "usage", None)  # a streamed attempt's usage comes later
        if usage is not None:
            span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
        return result


class RequestSpans:
    """One span per HTTP request, its attributes from the response's x-modelyard headers.

    Pure ASGI (a streamed body passes through untouched); `create_app` adds it only when
    tracing is on.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        name = f"{scope['method']} {scope['path']}"
        with tracer().start_as_current_span(name, kind=_server_kind()) as span:

            async def annotate(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                    for key, value in message.get("headers", []):
                        if key in _RESPONSE_ATTRIBUTES:
                            span.set_attribute(_RESPONSE_ATTRIBUTES[key], value.decode())
                await send(message)

            await self.app(scope, receive, annotate)


def _server_kind() -> Any:
    from opentelemetry.trace import SpanKind

    return SpanKind.SERVER
