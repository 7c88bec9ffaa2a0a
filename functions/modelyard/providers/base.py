"""What every provider adapter offers, whatever its wire format.

Adapters speak OpenAI's shapes inward: `chat` returns an OpenAI `chat.completion` object and
`stream` yields OpenAI `chat.completion.chunk` objects as JSON bytes, so the API layer never
branches on a provider. Usage is normalised into `TokenUsage` as it arrives.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

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


@runtime_checkable
class EmbeddingAdapter(Protocol):
    async def embed(self, provider: Provider, model: Model, body: dict[str, Any]) -> ChatResult:
        """One OpenAI `embeddings` list for an OpenAI embeddings body; raises `UpstreamError`."""
        ...


# -- OpenAI shapes every translating adapter builds ------------------------------------------
def tool_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    """An OpenAI tool call; `arguments` is a JSON string or an object to encode."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


def choice(
    index: int, texts: list[str], tool_calls: list[dict[str, Any]], finish_reason: str
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish_reason}


def completion(
    completion_id: str, model: str, choices: list[dict[str, Any]], usage: TokenUsage
) -> ChatResult:
    body = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": openai_usage(usage),
    }
    return ChatResult(body=body, usage=usage)


def openai_usage(usage: TokenUsage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


@dataclass
class ChunkWriter:
    """OpenAI chunks in one stream's id, model and creation time."""

    id: str = ""
    model: str = ""
    created: int = field(default_factory=lambda: int(time.time()))

    def chunk(
        self, delta: dict[str, Any], finish: str | None = None, index: int = 0
    ) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }

    def tool_call(
        self,
        position: int,
        call_id: str | None = None,
        name: str | None = None,
        arguments: str = "",
        index: int = 0,
    ) -> dict[str, Any]:
        """A tool-call delta: the first one for a call carries its id and name."""
        call: dict[str, Any] = {"index": position}
        if call_id is not None:
            call.update(id=call_id, type="function", function={"name": name, "arguments": ""})
        if arguments:
            call.setdefault("function", {})["arguments"] = arguments
        return self.chunk({"tool_calls": [call]}, index=index)

    def usage_chunk(self, usage: TokenUsage) -> dict[str, Any]:
        final = self.chunk({})
        final["choices"] = []
        final["usage"] = openai_usage(usage)
        return final


def encode(chunk: dict[str, Any]) -> bytes:
    return json.dumps(chunk, separators=(",", ":")).encode()


def json_instruction(response_format: dict[str, Any] | None) -> str | None:
    """A system instruction standing in for JSON mode where an API has none."""
    kind = (response_format or {}).get("type")
    if kind == "json_object":
        return "Respond with a single valid JSON object and nothing else."
    if kind == "json_schema":
        schema = ((response_format or {}).get("json_schema") or {}).get("schema", {})
        return (
            "Respond with a single JSON object that matches this JSON schema, "
            f"and nothing else: {json.dumps(schema)}"
        )
    return None


def max_tokens(body: dict[str, Any], model: Model, default: int | None = None) -> int | None:
    """The request's output limit, or `default` capped by the model's own."""
    asked = body.get("max_completion_tokens") or body.get("max_tokens")
    if asked:
        return int(asked)
    return None if default is None else min(default, model.max_output_tokens)


def stop_sequences(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if not stop:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:` URL, None for any other URL."""
    if not url.startswith("data:"):
        return None
    header, _, data = url.partition(",")
    return header[5:].split(";")[0] or "image/png", data


def tool_names(messages: list[dict[str, Any]]) -> dict[str, str]:
    """Function name by tool-call id, for APIs whose tool results name the function."""
    return {
        str(call.get("id")): str((call.get("function") or {}).get("name", ""))
        for message in messages
        if message.get("role") == "assistant"
        for call in message.get("tool_calls") or ()
    }


def parse_arguments(text: str | None) -> dict[str, Any]:
    """A tool call's JSON arguments as an object ({} when they are not one)."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
