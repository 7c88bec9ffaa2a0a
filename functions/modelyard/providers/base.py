"""What every provider adapter offers, whatever its wire format.

Adapters speak OpenAI's shapes inward: `chat` returns an OpenAI `chat.completion` object and
`stream` yields OpenAI `chat.completion.chunk` objects as JSON bytes, so the API layer never
branches on a provider. Usage is normalised into `TokenUsage` as it arrives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelyard.catalog import Model, Provider
from modelyard.pricing.prices import TokenUsage


@dataclass(slots=True)
class ChatResult:
    body: dict[str, Any]
    usage: TokenUsage


@dataclass(slots=True)
class StreamState:
    """Filled in by an adapter while it streams: what the gateway needs once the stream ends."""

    usage: TokenUsage | None = None
    #: the upstream's usage-only final chunk (choices empty), held back for the gateway to emit
    usage_chunk: dict[str, Any] | None = None
    finish_reason: str | None = None
    chunks: int = 0
    completion_chars: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class ProviderAdapter(Protocol):
    async def chat(self, provider: Provider, model: Model, body: dict[str, Any]) -> ChatResult:
        """One non-streaming completion; raises `UpstreamError` on any failure."""
        ...

    def stream(
        self, provider: Provider, model: Model, body: dict[str, Any], state: StreamState
    ) -> AsyncIterator[bytes]:
        """OpenAI chunk JSON, one object per item; raises `UpstreamError` on failure."""
        ...
