"""Server-sent events that never buffer and always clean up.

Starlette stops iterating a streaming body when the client goes away, but may leave the
generator suspended; closing it here, shielded from cancellation, lets the gateway close the
upstream request and record the partial usage at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        headers: dict[str, str],
        source: AsyncIterator[bytes] | None = None,
    ) -> None:
        """`source`: the gateway's stream that `chunks` re-frames, closed too (a re-framing
        generator that never started cannot close it)."""
        super().__init__(
            chunks,
            media_type=self.media_type,
            headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"},
        )
        self._closing = [chunks] if source is None else [chunks, source]

    def wrap(self, wrapper: Callable[[AsyncIterator[bytes]], AsyncIterator[bytes]]) -> None:
        """Send the frames through `wrapper`, which then owns closing them."""
        self.body_iterator = self._closing[0] = wrapper(self._closing[0])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                for stream in self._closing:
                    aclose = getattr(stream, "aclose", None)
                    if aclose is not None:
                        await aclose()


async def chat_chunks(frames: AsyncIterator[bytes]) -> AsyncIterator[dict[str, Any] | None]:
    """The gateway's chat SSE stream, parsed: each chunk (one with an `error` is the upstream
    failing mid-stream), then None for its `[DONE]`. Closes `frames` however it ends."""
    try:
        async for frame in frames:
            for line in frame.splitlines():
                if not line.startswith(b"data: "):
                    continue
                data = line[6:]
                if data == b"[DONE]":
                    yield None
                    return
                yield json.loads(data)
    finally:
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:
            await aclose()
