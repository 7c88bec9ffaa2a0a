"""Reading a byte stream whole, but never more of it than a cap: a request body, an upstream's
answer, a fetched image. Each caller says what being over the cap means for it."""

from __future__ import annotations

from collections.abc import AsyncIterable


class TooLarge(Exception):
    """The stream passed the cap; nothing past it was kept."""


async def read_capped(chunks: AsyncIterable[bytes], max_bytes: int) -> bytes:
    """All of `chunks`, or `TooLarge` as soon as they would pass `max_bytes` (the chunk that
    would is never kept)."""
    content = bytearray()
    async for chunk in chunks:
        if len(content) + len(chunk) > max_bytes:
            raise TooLarge(f"over {max_bytes} bytes")
        content += chunk
    return bytes(content)
