"""What every provider adapter offers, whatever its wire format.

Adapters speak OpenAI's shapes inward: `chat` returns an OpenAI `chat.completion` object and
`stream` yields OpenAI `chat.completion.chunk` objects as JSON bytes, so the API layer never
branches on a provider. Usage is normalised into `TokenUsage` as it arrives.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from modelyard.catalog import Model, Provider
from modelyard.pricing.prices import TokenUsage


@dataclass(slots=True)
class ChatResult:
    body: dict[str, Any]
    usage: TokenUsage
    #: the provider's own answer to a request passed through natively (providers.native)
    native: dict[str, Any] | None = None


@dataclass(slots=True)
class StreamState:
    """Filled in by an adapter while it streams: what the gateway needs once the stream ends."""

    usage: TokenUsage | None = None
    #: what the upstream reported as the stream began (Anthropic's `message_start`: exact input
    #: and cache counts), for billing a stream cut before its final usage
    started_usage: TokenUsage | None = None
    #: the upstream's usage-only final chunk (choices empty), held back for the gateway to emit
    usage_chunk: dict[str, Any] | None = None
    finish_reason: str | None = None
    chunks: int = 0
    completion_chars: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: set when the stream relays the upstream's own events (providers.native): writes an
    #: error event in their format, for a failure after the first byte
    native_error: Callable[[str], bytes] | None = None


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


#: the forced tool whose input carries a `json_schema` answer where an API's structured output
#: is a tool call (Anthropic Messages, Bedrock Converse); its call comes back as the answer's text
ANSWER_TOOL = "modelyard_json_answer"


def answer_tool(body: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """For `response_format: json_schema` on a request without tools of its own: the forced
    tool (name, description, input schema) that makes the model answer in the schema."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") != "json_schema" or body.get("tools"):
        return None
    spec = response_format.get("json_schema") or {}
    described = spec.get("description") or f"Answer with the {spec.get('name') or 'JSON'} object."
    return ANSWER_TOOL, described, spec.get("schema") or {"type": "object"}


def choice(
    index: int, texts: list[str], tool_calls: list[dict[str, Any]], finish_reason: str
) -> dict[str, Any]:
    answers = [
        call["function"]["arguments"]
        for call in tool_calls
        if call["function"]["name"] == ANSWER_TOOL
    ]
    if answers:  # the forced answer tool's input is the answer, and all of it
        texts, tool_calls = answers, []
        finish_reason = "stop" if finish_reason == "tool_calls" else finish_reason
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


def prompt_details(usage: TokenUsage) -> dict[str, int]:
    """OpenAI's `prompt_tokens_details`; prompt-cache writes, where there are any, ride along
    as `cache_write_tokens` (not OpenAI's field: SDKs keep it, /v1/messages reports it)."""
    details = {"cached_tokens": usage.cached_tokens}
    if usage.cache_write_tokens:
        details["cache_write_tokens"] = usage.cache_write_tokens
    return details


def openai_usage(usage: TokenUsage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": prompt_details(usage),
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


class StreamTranslator:
    """A provider's stream events in, OpenAI chunks out (`feed`); what the gateway needs once
    the stream ends goes on `state`."""

    #: the last event has come: the rest of the stream need not be read
    done = False

    def __init__(self, state: StreamState, out: ChunkWriter | None = None) -> None:
        self.state = state
        self.out = out or ChunkWriter()
        #: OpenAI tool-call position by the provider's content-block index
        self.tool_index: dict[int, int] = {}
        #: the content blocks of the forced answer tool (`ANSWER_TOOL`): streamed as text
        self.answer_blocks: set[Any] = set()

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        """The stream ended (before `done`, or where the format has no last event)."""

    async def translate(self, events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
        """The events' chunks as JSON, counted on `state`, up to the last event."""
        async for event in events:
            for chunk in self.feed(event):
                self.state.chunks += 1
                yield encode(chunk)
            if self.done:
                return
        self.close()

    def start(self) -> dict[str, Any]:
        return self.out.chunk({"role": "assistant", "content": ""})

    def tool_start(self, block: Any, call_id: Any, name: Any) -> dict[str, Any]:
        """The first delta of the tool call that content block `block` opens."""
        if name == ANSWER_TOOL:
            self.answer_blocks.add(block)
            return self.out.chunk({"content": ""})
        index = self.tool_index.setdefault(block, len(self.tool_index))
        return self.out.tool_call(index, call_id, name)

    def tool_arguments(self, block: Any, arguments: str) -> dict[str, Any]:
        if block in self.answer_blocks:
            return self.out.chunk({"content": arguments})
        return self.out.tool_call(self.tool_index.get(block, 0), arguments=arguments)

    def finish(self, reason: str, index: int = 0) -> dict[str, Any]:
        if reason == "tool_calls" and self.answer_blocks and not self.tool_index:
            reason = "stop"  # the answer tool's call was the answer
        self.state.finish_reason = reason
        return self.out.chunk({}, reason, index)

    def end(self, usage: TokenUsage) -> None:
        """The provider's final usage, for the gateway's usage chunk."""
        self.state.usage = usage
        self.state.usage_chunk = self.out.usage_chunk(usage)


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


@dataclass(frozen=True, slots=True)
class BlockFormat:
    """How one wire format writes the pieces of an OpenAI conversation as content blocks."""

    #: an OpenAI text part's block, or None to leave the part out
    text: Callable[[dict[str, Any]], dict[str, Any] | None]
    #: an image's block, from its URL (a `data:` URL or a link)
    image: Callable[[str], dict[str, Any]]
    #: a tool call's block, from its id, function name and arguments object
    tool_use: Callable[[Any, Any, dict[str, Any]], dict[str, Any]]
    #: the block of a `tool` message's result
    tool_result: Callable[[dict[str, Any]], dict[str, Any]]
    #: the role of the model's turns
    assistant: str = "assistant"
    #: the key of a turn's blocks
    key: str = "content"
    #: keep a turn that has no blocks (for the API to judge) rather than leave it out
    keep_empty: bool = False

    def blocks(self, content: Any) -> list[dict[str, Any]]:
        """OpenAI message content (a string or parts) as blocks; other part types are dropped."""
        if isinstance(content, str):
            content = [{"type": "text", "text": content}] if content else []
        blocks = []
        for part in content or ():
            kind = part.get("type")
            if kind == "text":
                block = self.text(part)
            elif kind == "image_url":
                block = self.image((part.get("image_url") or {}).get("url", ""))
            else:
                continue
            if block is not None:
                blocks.append(block)
        return blocks

    def tool_uses(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """An OpenAI assistant message's tool calls as blocks."""
        blocks = []
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            arguments = parse_arguments(function.get("arguments"))
            blocks.append(self.tool_use(call.get("id"), function.get("name"), arguments))
        return blocks

    def conversation(
        self, messages: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The system text blocks (of system and developer messages), and the turns. Tool
        results are user turns, and a turn of the same role as the one before joins it: these
        APIs want user and assistant turns to alternate."""
        system: list[dict[str, Any]] = []
        turns: list[dict[str, Any]] = []
        for message in messages:
            role = message.get("role")
            if role in ("system", "developer"):
                system.extend(b for b in self.blocks(message.get("content")) if "text" in b)
                continue
            if role == "assistant":
                role = self.assistant
                blocks = self.blocks(message.get("content")) + self.tool_uses(message)
            elif role in ("tool", "function"):
                role, blocks = "user", [self.tool_result(message)]
            else:
                role, blocks = "user", self.blocks(message.get("content"))
            if turns and turns[-1]["role"] == role:
                turns[-1][self.key].extend(blocks)
            elif blocks or self.keep_empty:
                turns.append({"role": role, self.key: blocks})
        return system, turns


def tool_choice(
    choice: Any,
    modes: dict[str, dict[str, Any]],
    named: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any] | None:
    """OpenAI's `tool_choice` in a format's words: `modes` by "auto", "required" or "none", and
    `named` of the `function` a choice names; None where the format has no word for it."""
    if isinstance(choice, dict) and choice.get("type") == "function":
        return named(choice.get("function") or {})
    return modes.get(choice) if isinstance(choice, str) else None


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
