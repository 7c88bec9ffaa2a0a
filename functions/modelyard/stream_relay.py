"""The relay of one upstream stream to the client, and its one usage event.

The first chunk has already been checked (the executor only commits to a candidate whose
first chunk parses); from there every chunk goes out as the upstream sent it. However the
stream ends, it is recorded exactly once, and before the response's final bytes:

- it completes: the usage is recorded, then the usage chunk (when asked) and `[DONE]` go out;
- the upstream fails mid-stream: recorded as `partial`, then an SSE error event ends it;
- the client goes away (the relay is closed, started or not): the upstream is closed and the
  request recorded as `cancelled`; nothing more goes out.

Behind the Lambda Web Adapter the invocation ends with the last byte, so nothing that must
happen for the request is left until after it.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from modelyard import accounting
from modelyard.cache.replay import StreamAssembler
from modelyard.errors import GatewayError
from modelyard.exchange import RequestContext, StreamResponse
from modelyard.pricing.prices import TokenUsage, cost_usd
from modelyard.providers.base import StreamState, openai_usage
from modelyard.providers.errors import UpstreamError
from modelyard.resilience.executor import FallbackExecutor, StreamStart
from modelyard.routing.planner import Candidate, RequestFeatures, RoutePlan

if TYPE_CHECKING:  # the cache's serving imports `frames` from here
    from modelyard.cache.serving import CacheServer


class StreamBook(Protocol):
    """What is done with a stream's outcome (`RecordingBook`, or a test's own)."""

    @property
    def caching(self) -> bool:
        """Whether a complete stream is assembled for the response cache."""
        ...

    async def record(
        self, status: str, usage: TokenUsage, estimated: bool, ttft_ms: int
    ) -> Decimal:
        """Price the usage, hand its usage event off and settle the request; the cost."""
        ...

    def keep(self, completion: dict[str, Any], usage: TokenUsage, cost: Decimal) -> None:
        """Store a complete stream's answer in the response cache."""
        ...

    def meta(self, cost: Decimal) -> dict[str, Any]:
        """The `modelyard` object of the final usage chunk."""
        ...


async def open_relay(
    executor: FallbackExecutor,
    accounts: accounting.Accountant,
    cache: CacheServer,
    body: dict[str, Any],
    ctx: RequestContext,
    plan: RoutePlan,
    features: RequestFeatures,
) -> StreamResponse:
    """The first candidate whose stream starts (executor), relayed and recorded once."""
    try:
        start = await executor.open_stream(plan.candidates, body, ctx.execution, plan.hedge)
    except GatewayError:
        await accounts.record_failure(ctx, plan)
        raise
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    book = RecordingBook(accounts, cache, ctx, plan, start.candidate)
    relay = StreamRelay(start, book, include_usage, features.estimated_input_tokens)
    native = start.state.native_error is not None
    return StreamResponse(relay, accounting.headers(ctx, plan, start.candidate), native)


@dataclass(slots=True)
class RecordingBook:
    """A stream's outcome, recorded by the accountant and kept by the cache (`StreamBook`)."""

    accounts: accounting.Accountant
    cache: CacheServer
    ctx: RequestContext
    plan: RoutePlan
    candidate: Candidate

    @property
    def caching(self) -> bool:
        return self.ctx.cache is not None and self.ctx.cache.write

    async def record(
        self, status: str, usage: TokenUsage, estimated: bool, ttft_ms: int
    ) -> Decimal:
        cost = cost_usd(usage, self.candidate.price)
        event = self.accounts.event(
            self.ctx, self.plan, self.candidate, status, usage, cost, ttft_ms, estimated
        )
        event.stream = True
        await self.accounts.record(self.ctx, event)
        return cost

    def keep(self, completion: dict[str, Any], usage: TokenUsage, cost: Decimal) -> None:
        self.cache.keep(self.ctx, self.candidate, completion, usage, cost)

    def meta(self, cost: Decimal) -> dict[str, Any]:
        return accounting.meta(self.ctx, self.plan, self.candidate, cost)


class StreamRelay:
    """SSE bytes for the client (an async iterator that is safe to close before it starts)."""

    def __init__(
        self,
        start: StreamStart,
        book: StreamBook,
        include_usage: bool,
        estimated_input_tokens: int,
    ) -> None:
        self.start = start
        self.book = book
        self.include_usage = include_usage
        self.estimated_input_tokens = estimated_input_tokens
        self.ttft_ms = round((time.monotonic() - start.started) * 1000)
        #: the upstream's own events, relayed as they are (providers.native): no chat framing
        self.native_error = start.state.native_error
        caching = book.caching and self.native_error is None
        self.assembler = StreamAssembler() if caching else None
        self._frames = self._relay()
        self._began = False
        self._cost: Decimal | None = None

    def __aiter__(self) -> StreamRelay:
        return self

    async def __anext__(self) -> bytes:
        self._began = True
        return await self._frames.__anext__()

    async def aclose(self) -> None:
        """The client went away (or the response was never sent): close and record."""
        if self._began:
            await self._frames.aclose()
        else:
            await self._end("cancelled")

    async def _relay(self) -> AsyncGenerator[bytes, None]:
        status = "cancelled"
        error: dict[str, Any] | None = None
        # the upstream's own events end with its own last event: it is held back until the
        # request is recorded, as the usage chunk and `[DONE]` are for a chat stream
        held: bytes | None = None
        try:
            async for frame in self._frames_of(self.start.chunks):
                if self.native_error is None:
                    yield frame
                    continue
                if held is not None:
                    yield held
                held = frame
            status = "ok"
        except UpstreamError as exc:
            status = "partial"
            error = {
                "message": f"upstream failed mid-stream: {exc.message}",
                "type": "upstream_error",
                "param": None,
                "code": exc.kind.value,
            }
        finally:
            if status == "cancelled":  # closed from outside: no more bytes will go out
                await self._end(status)
        cost = await self._end(status)
        if held is not None:
            yield held
        if error is not None and self.native_error is not None:
            yield self.native_error(error["message"])
            return
        if error is not None:
            yield b"data: " + json.dumps({"error": error}).encode() + b"\n\n"
            return
        if self.native_error is not None:
            return  # the upstream's own last event has gone out
        if self.include_usage:
            state = self.start.state
            usage, _ = stream_usage(state, self.estimated_input_tokens)
            final = dict(state.usage_chunk or usage_chunk(self.start.first_chunk, usage))
            final["modelyard"] = self.book.meta(cost)
            yield b"data: " + json.dumps(final, separators=(",", ":")).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    async def _frames_of(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The first chunk (already read) and the rest, framed for the client."""
        yield self._frame(self.start.first_chunk)
        async for chunk in chunks:
            yield self._frame(chunk)

    def _frame(self, chunk: bytes) -> bytes:
        if self.native_error is not None:
            return chunk  # already a frame of the upstream's own format
        if self.assembler is not None:
            self.assembler.feed(chunk)
        return b"data: " + chunk + b"\n\n"

    async def _end(self, status: str) -> Decimal:
        """Close the upstream and record the request, once, shielded from cancellation."""
        if self._cost is not None:
            return self._cost
        with anyio.CancelScope(shield=True):
            aclose = getattr(self.start.chunks, "aclose", None)
            if aclose is not None:
                await aclose()
            state = self.start.state
            usage, estimated = stream_usage(state, self.estimated_input_tokens)
            cost = self._cost = await self.book.record(status, usage, estimated, self.ttft_ms)
        if self.assembler is not None and status == "ok" and not estimated:
            reported = (state.usage_chunk or {}).get("usage") or openai_usage(usage)
            assembled = self.assembler.completion(reported)
            if assembled is not None:
                self.book.keep(assembled, usage, cost)
        return cost


def stream_usage(state: StreamState, estimated_input_tokens: int) -> tuple[TokenUsage, bool]:
    """The provider's usage; for a stream cut before it came, what the provider said at the
    start (exact input and cache counts, where it says them) plus an estimate of the rest,
    flagged as estimated."""
    if state.usage is not None:
        return state.usage, False
    known = state.started_usage
    if known is not None:
        return TokenUsage(
            input_tokens=known.input_tokens,
            output_tokens=max(known.output_tokens, state.chunks),
            cached_tokens=known.cached_tokens,
            cache_write_tokens=known.cache_write_tokens,
        ), True
    return TokenUsage(input_tokens=estimated_input_tokens, output_tokens=state.chunks), True


def usage_chunk(first_chunk: bytes, usage: TokenUsage) -> dict[str, Any]:
    """A usage chunk in the stream's own id and model, for upstreams that sent none."""
    first = json.loads(first_chunk)
    return {
        "id": first.get("id"),
        "object": "chat.completion.chunk",
        "created": first.get("created"),
        "model": first.get("model"),
        "choices": [],
        "usage": {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        },
    }


async def frames(items: list[bytes]) -> AsyncIterator[bytes]:
    """Ready SSE frames as a stream (a cached answer's replay)."""
    for item in items:
        yield item
