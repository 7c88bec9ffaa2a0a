"""`Idempotency-Key` on chat completions and responses, JSON and streamed
(resilience.idempotency stores it).

The first request with a key runs; its answer is stored once it is recorded: a JSON body
before it is sent, a stream's SSE just before its final frame (`[DONE]`, `response.completed`)
goes out. A repeat gets the
stored answer (a stream replayed as the same SSE) without reaching an upstream or being
billed; a repeat while the first is in flight is 409. A replay is checked against the
replaying key's allow-lists, as a cache hit is: a key may not read an answer from a model it
may not use. A first request that ends without an answer (an error, a cut stream, a client
gone) frees the key for a retry.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from modelyard.api.responses import AccountedResponse
from modelyard.api.sse import EventStreamResponse
from modelyard.auth.keys import KeyRecord
from modelyard.errors import PermissionDenied
from modelyard.gateway import Gateway
from modelyard.resilience.idempotency import IdempotencyGuard
from modelyard.stream_relay import frames

REPLAY_HEADER = "x-modelyard-idempotent-replay"
DONE = b"data: [DONE]\n\n"


async def idempotent_or_not(
    request: Request,
    gw: Gateway,
    body: dict[str, Any],
    key: KeyRecord,
    serve: Callable[[], Awaitable[Response]],
    last_frame: Callable[[bytes], bool] = lambda frame: frame == DONE,
) -> Response:
    """`serve()`, under the request's `Idempotency-Key` if it sends one."""
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is None or gw.idempotency is None:
        return await serve()
    return await idempotent(gw, gw.idempotency, idempotency_key, body, key, serve, last_frame)


async def idempotent(
    gw: Gateway,
    guard: IdempotencyGuard,
    idempotency_key: str,
    body: dict[str, Any],
    key: KeyRecord,
    serve: Callable[[], Awaitable[Response]],
    last_frame: Callable[[bytes], bool] = lambda frame: frame == DONE,
) -> Response:
    """The answer `serve` makes under `idempotency_key`: made once, replayed after. Any door
    (chat completions, responses) whose answer is an `AccountedResponse` or an
    `EventStreamResponse` is served so."""
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
        answer = await serve()
        headers = _own_headers(answer)
        if isinstance(answer, AccountedResponse):
            await answer.settle()  # stored only once it is recorded
            done = {"body": json.loads(bytes(answer.body)), "headers": headers}
            await guard.complete(tenant, idempotency_key, body, done)
    except Exception as exc:
        await guard.abandon(tenant, idempotency_key, body, exc)
        raise
    answer.headers[REPLAY_HEADER] = "false"
    if not isinstance(answer, EventStreamResponse):
        return answer

    async def store(sse: str) -> None:
        await guard.complete(tenant, idempotency_key, body, {"stream": sse, "headers": headers})

    async def abandon() -> None:
        await guard.abandon(tenant, idempotency_key, body)

    answer.wrap(lambda frames: CapturedStream(frames, last_frame, store, abandon))
    return answer


def _own_headers(answer: Response) -> dict[str, str]:
    """The answer's gateway headers (a cache hit's `age` too), as a replay repeats them."""
    own = ("x-modelyard-", "x-ratelimit-")
    return {k: v for k, v in answer.headers.items() if k.startswith(own) or k == "age"}


class CapturedStream:
    """A stream's frames as they go out, stored just before its last frame; a stream that
    ends any other way (closed, cut) is abandoned instead."""

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        last_frame: Callable[[bytes], bool],
        store: Callable[[str], Awaitable[None]],
        abandon: Callable[[], Awaitable[None]],
    ) -> None:
        self.chunks = chunks
        self.last_frame = last_frame
        self.store = store
        self.abandon = abandon
        self.frames: list[bytes] = []
        self.settled = False

    def __aiter__(self) -> CapturedStream:
        return self

    async def __anext__(self) -> bytes:
        frame = await self.chunks.__anext__()
        self.frames.append(frame)
        if self.last_frame(frame) and not self.settled:
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
