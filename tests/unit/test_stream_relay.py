"""The stream relay records a stream once, however and whenever it ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from modelyard.cli import _offline_catalog
from modelyard.pricing.prices import TokenUsage
from modelyard.providers.base import StreamState
from modelyard.resilience.executor import StreamStart
from modelyard.routing.planner import RequestFeatures, RouteRequest, plan_route
from modelyard.stream_relay import StreamRelay

BODY = {"model": "qwen3-32b", "messages": [{"role": "user", "content": "hi"}]}


class Book:
    caching = False

    def __init__(self) -> None:
        self.recorded: list[str] = []

    async def record(
        self, status: str, usage: TokenUsage, estimated: bool, ttft_ms: int
    ) -> Decimal:
        self.recorded.append(status)
        return Decimal(0)

    def keep(self, completion: dict[str, Any], usage: TokenUsage, cost: Decimal) -> None:
        raise AssertionError("nothing is cached here")

    def meta(self, cost: Decimal) -> dict[str, Any]:
        return {}


class Upstream:
    def __init__(self) -> None:
        self.closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        return b'{"choices":[]}'

    async def aclose(self) -> None:
        self.closed = True


def relay() -> tuple[StreamRelay, Book, Upstream]:
    plan = plan_route(
        RouteRequest.from_body(BODY), RequestFeatures.from_chat(BODY), _offline_catalog()
    )
    upstream, book = Upstream(), Book()
    start = StreamStart(
        plan.candidates[0], b'{"choices":[]}', upstream, StreamState(), time.monotonic()
    )
    return StreamRelay(start, book, include_usage=False, estimated_input_tokens=5), book, upstream


def test_a_client_gone_before_the_stream_starts_closes_the_upstream_and_records_it():
    stream, book, upstream = relay()
    asyncio.run(stream.aclose())  # the response was never sent: not one frame was read
    assert upstream.closed
    assert book.recorded == ["cancelled"]


def test_a_client_gone_mid_stream_is_recorded_once():
    stream, book, upstream = relay()

    async def read_two_then_leave() -> None:
        await anext(stream)
        await anext(stream)
        await stream.aclose()
        await stream.aclose()

    asyncio.run(read_two_then_leave())
    assert upstream.closed
    assert book.recorded == ["cancelled"]
