"""Reading a byte stream whole, but never more of it than a cap: a request body, an upstream's
answer, a fetched image. Each caller says what being over the cap means for it."""

from __future__ import annotations

from collections.abc import AsyncIterable


class TooLarge(Exception):
    """The stream passed the cap; nothing past it was kept."""


async def read_capped(chunks: AsyncIterable[bytes], max_bytes: int) -> bytes:
    """All of `chunks`, or `TooLarge` as soon as they pass `max_bytes`."""
    content = bytearray()
    async for chunk in chunks:
        content += chunk
        if len(content) > max_bytes:
            raise TooLarge(f"over {max_bytes} bytes")
    return bytes(content)
