"""Adapter instances by wire format."""

from __future__ import annotations

from functools import cache

from modelyard.providers.base import ProviderAdapter
from modelyard.providers.errors import ErrorKind, UpstreamError


@cache
def adapter_for(wire: str) -> ProviderAdapter:
    if wire == "openai":
        from modelyard.providers.openai_compat import OpenAICompatAdapter

        return OpenAICompatAdapter()
    if wire == "anthropic":
        from modelyard.providers.anthropic import AnthropicAdapter

        return AnthropicAdapter()
    if wire == "gemini":
        from modelyard.providers.gemini import GeminiAdapter

        return GeminiAdapter()
    if wire == "bedrock":
        from modelyard.providers.bedrock import BedrockAdapter

        return BedrockAdapter()
    raise UpstreamError(ErrorKind.NOT_FOUND, f"no adapter for wire format {wire!r}")
