"""`Idempotency-Key` on chat completions, JSON and streamed (resilience.idempotency stores it).

The first request with a key runs; its answer is stored once it is recorded: a JSON body
before it is sent, a stream's SSE just before its final `[DONE]` goes out. A repeat gets the
stored answer (a stream replayed as the same SSE) without reaching an upstream or being
billed; a repeat while the first is in flight is 409. A replay is checked against the
replaying key's allow-lists, as a cache hit is: a key may not read an answer from a model it
may not use. A first request that ends without an answer (an error, a cut stream, a client
gone) frees the key for a retry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.responses import Response

from modelyard.api.responses import AccountedResponse
from modelyard.api.sse import EventStreamResponse
from modelyard.auth.keys import KeyRecord
from modelyard.errors import PermissionDenied
from modelyard.exchange import ChatResponse
from modelyard.gateway import Gateway
from modelyard.resilience.idempotency import IdempotencyGuard
from modelyard.stream_relay import frames

REPLAY_HEADER = "x-modelyard-idempotent-replay"
DONE = b"data: [DONE]\n\n"


async def idempotent_chat(
    gw: Gateway,
    guard: IdempotencyGuard,
    idempotency_key: str,
    body: dict[str, Any],
    key: KeyRecord,
    request_id: str,
    policy: str | None,
    cache_control: str | None,
) -> Response:
    """The chat completion under `idempotency_key`: run once, replayed after."""
    tenant = key.tenant
    stored = await guard.begin(tenant, idempotency_key, body)
    if stored is not None:
        headers = stored["headers"]
        catalog = await gw.config.catalog_async()
        if not key.model_filter(catalog)(headers.get("x-modelyard-model", "")):
            raise PermissionDenied("this key may not use the model that answered this request")
        headers = {**headers, REPLAY_HEADER: "true"}
        if "stream" in stored:
            return EventStreamResponse(frames([stored["stream"].encode()]), headers=headers)
        return AccountedResponse(stored["body"], headers, None)
    try:
        outcome = await gw.chat(body, key, request_id, policy, cache_control)
        if isinstance(outcome, ChatResponse):
            await outcome.settle()  # stored only once it is recorded
            await guard.complete(
                tenant, idempotency_key, body, {"body": outcome.body, "headers": outcome.headers}
            )
    except Exception as exc:
        await guard.abandon(tenant, idempotency_key, body, exc)
        raise
    headers = {**outcome.headers, REPLAY_HEADER: "false"}
    if isinstance(outcome, ChatResponse):
        return AccountedResponse(outcome.body, headers, None)

    async def store(sse: str) -> None:
        stored = {"stream": sse, "headers": outcome.headers}
        await guard.complete(tenant, idempotency_key, body, stored)

    async def abandon() -> None:
        await guard.abandon(tenant, idempotency_key, body)

    return EventStreamResponse(CapturedStream(outcome.chunks, store, abandon), headers=headers)


class CapturedStream:
    """A stream's frames as they go out, stored just before the final `[DONE]`; a stream that
    ends any other way (closed, cut) is abandoned instead."""

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        store: Callable[[str], Awaitable[None]],
        abandon: Callable[[], Awaitable[None]],
    ) -> None:
        self.chunks = chunks
        self.store = store
        self.abandon = abandon
        self.frames: list[bytes] = []
        self.settled = False

    def __aiter__(self) -> CapturedStream:
        return self

    async def __anext__(self) -> bytes:
        frame = await self.chunks.__anext__()
        self.frames.append(frame)
        if frame == DONE and not self.settled:
            await self.store(b"".join(self.frames).decode())
            self.settled = True
        return frame

    async def aclose(self) -> None:
        aclose = getattr(self.chunks, "aclose", None)
        if aclose is not None:
            await aclose()
        if not self.settled:
            self.settled = True
            await self.abandon()
