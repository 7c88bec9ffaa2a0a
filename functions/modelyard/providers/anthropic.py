"""Anthropic's Messages API, translated to and from OpenAI's Chat Completions shapes.

Request: system/developer messages become `system`; tool calls and tool results become
`tool_use` / `tool_result` blocks; images become image blocks; JSON mode, which Messages
lacks, becomes a system instruction; `reasoning_effort` becomes extended thinking with the
budget providers/parameters.json gives it (a `/v1/messages` request's own `thinking` is sent back
exactly), with `max_tokens` raised past the budget; `top_k` and Anthropic's server tools (carried
from `/v1/messages`) are sent as they are. `n` > 1 and `logprobs` have no equivalent: the
planner never routes them here. Response and stream: content blocks become an OpenAI
message or chunks; usage is normalised (Anthropic reports cache reads and writes apart from
`input_tokens`; OpenAI's convention counts them inside the prompt).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from modelyard.catalog import Model, Provider
from modelyard.pricing.prices import TokenUsage
from modelyard.providers.base import (
    BlockFormat,
    ChatResult,
    StreamState,
    StreamTranslator,
    answer_tool,
    choice,
    completion,
    data_url,
    json_instruction,
    max_tokens,
    stop_sequences,
    tool_call,
    tool_choice,
)
from modelyard.providers.errors import ErrorKind, UpstreamError
from modelyard.providers.native import MESSAGES, event_frame, native_request
from modelyard.providers.openai_compat import (
    http_error,
    key_header,
    native_events,
    open_stream,
    post_json,
    send_json,
    sse_json_events,
)
from modelyard.providers.parameters import EXTRAS, effort_for_budget, extras, thinking_budget

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
ERROR_KINDS = {
    "overloaded_error": ErrorKind.OVERLOADED,
    "rate_limit_error": ErrorKind.RATE_LIMITED,
    "api_error": ErrorKind.SERVER_ERROR,
    "timeout_error": ErrorKind.TIMEOUT,
    "authentication_error": ErrorKind.AUTH_ERROR,
    "permission_error": ErrorKind.AUTH_ERROR,
    "not_found_error": ErrorKind.NOT_FOUND,
    "request_too_large": ErrorKind.CONTEXT_LENGTH_EXCEEDED,
    "invalid_request_error": ErrorKind.BAD_REQUEST,
}
#: Anthropic's error type for an HTTP status (its errors page), for errors we answer ourselves
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type_for_status(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def usage_from_anthropic(usage: dict[str, Any]) -> TokenUsage:
    fresh = int(usage.get("input_tokens") or 0)
    read = int(usage.get("cache_read_input_tokens") or 0)
    written = int(usage.get("cache_creation_input_tokens") or 0)
    return TokenUsage(
        input_tokens=fresh + read + written,
        output_tokens=int(usage.get("output_tokens") or 0),
        cached_tokens=read,
        cache_write_tokens=written,
    )


# -- request ---------------------------------------------------------------------------------
def _text_part(block: dict[str, Any]) -> dict[str, Any]:
    """A text block or part, in either direction: Messages and OpenAI write it alike, and a
    prompt-cache breakpoint stays on it."""
    part: dict[str, Any] = {"type": "text", "text": block.get("text", "")}
    if "cache_control" in block:
        part["cache_control"] = block["cache_control"]
    return part


def _image(url: str) -> dict[str, Any]:
    inline = data_url(url)
    source = (
        {"type": "base64", "media_type": inline[0], "data": inline[1]}
        if inline
        else {"type": "url", "url": url}
    )
    return {"type": "image", "source": source}


def _tool_result(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content)
    return {"type": "tool_result", "tool_use_id": message.get("tool_call_id"), "content": text}


BLOCKS = BlockFormat(
    text=_text_part,
    image=_image,
    tool_use=lambda id_, name, args: {"type": "tool_use", "id": id_, "name": name, "input": args},
    tool_result=_tool_result,
    keep_empty=True,
)


def to_anthropic(body: dict[str, Any], model: Model, stream: bool) -> dict[str, Any]:
    system, messages = BLOCKS.conversation(body.get("messages") or [])
    out: dict[str, Any] = {
        "model": model.upstream,
        "messages": messages,
        "max_tokens": max_tokens(body, model, DEFAULT_MAX_TOKENS),
    }
    _think(out, body)
    # a JSON schema answer comes as a forced tool's input (not with thinking, which refuses a
    # forced tool, nor beside server tools); JSON mode, and a schema beside tools, as an
    # instruction
    forced_ok = "thinking" not in out and not extras(body).get("server_tools")
    answer = answer_tool(body) if forced_ok else None
    if answer is not None:
        name, description, schema = answer
        out["tools"] = [{"name": name, "description": description, "input_schema": schema}]
        out["tool_choice"] = {"type": "tool", "name": name}
    elif instruction := json_instruction(body.get("response_format")):
        system.append({"type": "text", "text": instruction})
    if any("cache_control" in b for b in system):
        out["system"] = system  # blocks: a prompt-cache breakpoint must stay on its block
    elif system:
        out["system"] = "\n\n".join(b["text"] for b in system)
    if body.get("temperature") is not None:
        out["temperature"] = min(float(body["temperature"]), 1.0)  # Anthropic's range is 0..1
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    if body.get("top_k") is not None:
        out["top_k"] = body["top_k"]
    stop = stop_sequences(body)
    if stop:
        out["stop_sequences"] = stop
    if body.get("user"):
        out["metadata"] = {"user_id": body["user"]}
    server_tools = extras(body).get("server_tools") or []
    if server_tools:
        out["tools"] = list(server_tools)
    tools = body.get("tools")
    if tools:
        out.setdefault("tools", [])
        out["tools"] += [
            {
                "name": t["function"]["name"],
                "description": t["function"].get("description", ""),
                "input_schema": t["function"].get("parameters") or {"type": "object"},
            }
            for t in tools
        ]
        choice = tool_choice(
            body.get("tool_choice"),
            {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}},
            lambda function: {"type": "tool", "name": function.get("name")},
        )
        if body.get("parallel_tool_calls") is False:
            choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
        if choice:
            out["tool_choice"] = choice
    if stream:
        out["stream"] = True
    return out


def _think(out: dict[str, Any], body: dict[str, Any]) -> None:
    """Extended thinking: the client's own `thinking` as it was sent, else `reasoning_effort`'s
    budget; `max_tokens` must exceed the budget, so the answer's own limit comes on top."""
    thinking = extras(body).get("thinking")
    if not isinstance(thinking, dict):
        budget = thinking_budget(body)
        if not budget:
            return
        thinking = {"type": "enabled", "budget_tokens": budget}
    out["thinking"] = thinking
    budget = thinking.get("budget_tokens")
    if isinstance(budget, int) and out["max_tokens"] <= budget:
        out["max_tokens"] += budget


# -- response --------------------------------------------------------------------------------
def to_openai(data: dict[str, Any]) -> ChatResult:
    if data.get("type") != "message":
        raise ValueError("not a message")
    texts = []
    tool_calls = []
    for block in data.get("content") or []:
        if block.get("type") == "text":
            texts.append(block.get("text", ""))
        elif block.get("type") == "tool_use":
            tool_calls.append(tool_call(block.get("id"), block.get("name"), block.get("input")))
    finish = FINISH_REASONS.get(str(data.get("stop_reason")), "stop")
    usage = usage_from_anthropic(data.get("usage") or {})
    return completion(
        data.get("id", ""), data.get("model", ""), [choice(0, texts, tool_calls, finish)], usage
    )


def anthropic_error(status: int, content: bytes, headers: httpx.Headers) -> UpstreamError:
    error = http_error(status, content, headers)
    try:
        kind = (json.loads(content).get("error") or {}).get("type")
    except (ValueError, AttributeError):
        kind = None
    if kind in ERROR_KINDS and kind not in ("invalid_request_error", "api_error"):
        error.kind = ERROR_KINDS[kind]  # the generic types keep the status and message mapping
    return error


class AnthropicAdapter:
    """Messages API calls: translated from the chat body, or a `/v1/messages` request as the
    client sent it (providers.native) with only the model name changed."""

    def _request(self, provider: Provider, payload: dict[str, Any]) -> httpx.Request:
        return post_json(
            provider.base_url.rstrip("/") + "/v1/messages",
            payload,
            {"anthropic-version": API_VERSION, **key_header(provider, "x-api-key")},
        )

    async def chat(self, provider: Provider, model: Model, body: dict[str, Any]) -> ChatResult:
        native = native_request(body, MESSAGES, provider.dialects)
        if native is None:
            request = self._request(provider, to_anthropic(body, model, False))
            return await send_json(request, provider, anthropic_error, to_openai)
        native.pop("stream", None)
        request = self._request(provider, {**native, "model": model.upstream})
        return await send_json(request, provider, anthropic_error, _with_native)

    async def stream(
        self, provider: Provider, model: Model, body: dict[str, Any], state: StreamState
    ) -> AsyncIterator[bytes]:
        native = native_request(body, MESSAGES, provider.dialects)
        payload = (
            to_anthropic(body, model, True)
            if native is None
            else {**native, "model": model.upstream, "stream": True}
        )
        async with open_stream(self._request(provider, payload), anthropic_error) as response:
            translator = _StreamTranslator(state)
            if native is None:
                chunks = translator.translate(sse_json_events(response, provider))
            else:
                chunks = native_events(response, provider, translator, error_frame)
            async for chunk in chunks:
                yield chunk


def _with_native(data: dict[str, Any]) -> ChatResult:
    result = to_openai(data)
    result.native = data
    return result


def error_frame(message: str) -> bytes:
    """A stream failing after the first byte, as Anthropic says it."""
    return event_frame({"type": "error", "error": {"type": "api_error", "message": message}})


class _StreamTranslator(StreamTranslator):
    """Anthropic stream events in, OpenAI chunks out."""

    def __init__(self, state: StreamState) -> None:
        super().__init__(state)
        self.usage: dict[str, Any] = {}

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self.out.id = message.get("id", "")
            self.out.model = message.get("model", "")
            self.usage.update(message.get("usage") or {})
            self.state.started_usage = usage_from_anthropic(self.usage)
            return [self.start()]
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                return [self.tool_start(event.get("index", 0), block.get("id"), block.get("name"))]
            return []
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [self.out.chunk({"content": delta.get("text", "")})]
            if delta.get("type") == "input_json_delta":
                return [self.tool_arguments(event.get("index", 0), delta.get("partial_json", ""))]
            return []
        if kind == "message_delta":
            self.usage.update(event.get("usage") or {})
            reason = (event.get("delta") or {}).get("stop_reason")
            return [self.finish(FINISH_REASONS.get(str(reason), "stop"))]
        if kind == "message_stop":
            self.end(usage_from_anthropic(self.usage))
            self.done = True
            return []
        if kind == "error":
            error = event.get("error") or {}
            raise UpstreamError(
                ERROR_KINDS.get(str(error.get("type")), ErrorKind.SERVER_ERROR),
                f"anthropic stream error: {error.get('message', 'unknown')}",
            )
        return []  # ping and future event types


# -- inbound: Anthropic's Messages API served through the OpenAI-shaped gateway ---------------
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def openai_request(body: dict[str, Any]) -> dict[str, Any]:
    """A Messages API request as the OpenAI chat body the gateway routes (the inverse of
    `to_anthropic`); streams always ask for usage, which `message_delta` must carry."""
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if isinstance(system, list) and any(
        isinstance(b, dict) and "cache_control" in b for b in system
    ):
        parts = [_text_part(b) for b in system if isinstance(b, dict) and b.get("type") == "text"]
        messages.append({"role": "system", "content": parts})
    elif system:
        text = system if isinstance(system, str) else _texts(system)
        messages.append({"role": "system", "content": text})
    for message in body.get("messages") or []:
        messages.extend(_openai_messages(message))
    out: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    for name in ("max_tokens", "temperature", "top_p", "top_k", "stream"):
        if body.get(name) is not None:
            out[name] = body[name]
    carried = _carried(body)
    if carried:
        out[EXTRAS] = carried
    thinking = carried.get("thinking") or {}
    if isinstance(thinking.get("budget_tokens"), int):
        out["reasoning_effort"] = effort_for_budget(thinking["budget_tokens"])
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    user = (body.get("metadata") or {}).get("user_id")
    if user:
        out["user"] = user
    tools = [t for t in body.get("tools") or [] if "input_schema" in t]  # client tools only
    if tools:
        out["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t["name"],
                    "description": t.get("description", ""),
                    "parameters": t["input_schema"],
                },
            }
            for t in tools
        ]
    choice_ = body.get("tool_choice") or {}
    kind = choice_.get("type")
    if kind in ("auto", "any", "none"):
        out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice_.get("name")}}
    if choice_.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False
    if body.get("stream"):
        out["stream_options"] = {"include_usage": True}
    if isinstance(body.get("modelyard"), dict):
        out["modelyard"] = body["modelyard"]
    return out


def _carried(body: dict[str, Any]) -> dict[str, Any]:
    """What OpenAI's body has no field for, kept for the adapters (providers.parameters):
    `thinking` as sent, and server tools (a `type` and no `input_schema`)."""
    carried: dict[str, Any] = {}
    if isinstance(body.get("thinking"), dict):
        carried["thinking"] = body["thinking"]
    server_tools = [t for t in body.get("tools") or [] if "input_schema" not in t]
    if server_tools:
        carried["server_tools"] = server_tools
    return carried


def _texts(blocks: Any) -> str:
    return "\n\n".join(
        str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text"
    )


def _openai_messages(message: dict[str, Any]) -> list[dict[str, Any]]:
    """One Messages turn as OpenAI messages: tool results become `tool` messages of their own."""
    role = message.get("role")
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for block in content or []:
        kind = block.get("type")
        if kind == "text":
            parts.append(_text_part(block))
        elif kind == "image":
            source = block.get("source") or {}
            url = (
                f"data:{source.get('media_type')};base64,{source.get('data')}"
                if source.get("type") == "base64"
                else source.get("url", "")
            )
            parts.append({"type": "image_url", "image_url": {"url": url}})
        elif kind == "tool_use":
            calls.append(tool_call(block.get("id"), block.get("name"), block.get("input")))
        elif kind == "tool_result":
            inner = block.get("content")
            text = inner if isinstance(inner, str) else _texts(inner or [])
            if block.get("is_error"):
                text = f"Error: {text}"
            results.append(
                {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text}
            )
    out = list(results)
    if role == "assistant":
        text = "".join(p["text"] for p in parts if p["type"] == "text")
        turn: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            turn["tool_calls"] = calls
        out.append(turn)
    elif parts:
        out.append({"role": role, "content": parts})
    return out


def anthropic_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    """OpenAI usage as Anthropic's, whose `input_tokens` excludes cache reads and writes."""
    usage = usage or {}
    details = usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0)
    written = int(details.get("cache_write_tokens") or 0)
    return {
        "input_tokens": max(int(usage.get("prompt_tokens") or 0) - cached - written, 0),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
    }


def message_from_openai(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    """An OpenAI chat completion as an Anthropic `message` (the inverse of `to_openai`)."""
    first = (body.get("choices") or [{}])[0]
    message = first.get("message") or {}
    blocks: list[dict[str, Any]] = []
    if message.get("content"):
        blocks.append({"type": "text", "text": message["content"]})
    blocks.extend(BLOCKS.tool_uses(message))
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": blocks,
        "stop_reason": STOP_REASONS.get(str(first.get("finish_reason")), "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage(body.get("usage")),
    }


class MessageEventWriter:
    """OpenAI chunks in, Anthropic stream events out (the inverse of `_StreamTranslator`)."""

    def __init__(self, message_id: str) -> None:
        self.id = message_id
        self.started = False
        self.block = -1  # index of the open content block, -1 when none is open
        self.block_kind: str | None = None
        self.tool_blocks: dict[int, int] = {}  # OpenAI tool-call index -> block index
        self.stop_reason = "end_turn"
        self.usage: dict[str, Any] | None = None
        self.output_chunks = 0

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if not self.started:
            self.started = True
            events += [self._message_start(chunk), {"type": "ping"}]
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice_ in chunk.get("choices") or []:
            if choice_.get("index", 0) != 0:
                continue  # Messages has one answer per request
            delta = choice_.get("delta") or {}
            if delta.get("content"):
                self.output_chunks += 1
                if self.block_kind != "text":
                    events += self._open({"type": "text", "text": ""}, "text")
                events.append(self._delta({"type": "text_delta", "text": delta["content"]}))
            for call in delta.get("tool_calls") or []:
                position = call.get("index", 0)
                function = call.get("function") or {}
                if call.get("id"):
                    block = {
                        "type": "tool_use",
                        "id": call["id"],
                        "name": function.get("name"),
                        "input": {},
                    }
                    events += self._open(block, "tool_use")
                    self.tool_blocks[position] = self.block
                if function.get("arguments"):
                    events.append(
                        self._delta(
                            {"type": "input_json_delta", "partial_json": function["arguments"]},
                            self.tool_blocks.get(position, self.block),
                        )
                    )
            if choice_.get("finish_reason"):
                self.stop_reason = STOP_REASONS.get(choice_["finish_reason"], "end_turn")
                events += self._close()
        return events

    def finish(self) -> list[dict[str, Any]]:
        """The closing events, once the chunks (and the usage chunk) are all in."""
        usage = anthropic_usage(self.usage) if self.usage else {"output_tokens": self.output_chunks}
        return [
            *self._close(),
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                "usage": usage,
            },
            {"type": "message_stop"},
        ]

    def _message_start(self, chunk: dict[str, Any]) -> dict[str, Any]:
        message = message_from_openai({"model": chunk.get("model")}, self.id)
        message.update(content=[], stop_reason=None)
        return {"type": "message_start", "message": message}

    def _open(self, block: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        events = self._close()
        self.block += 1
        self.block_kind = kind
        return [
            *events,
            {"type": "content_block_start", "index": self.block, "content_block": block},
        ]

    def _close(self) -> list[dict[str, Any]]:
        if self.block_kind is None:
            return []
        self.block_kind = None
        return [{"type": "content_block_stop", "index": self.block}]

    def _delta(self, delta: dict[str, Any], index: int | None = None) -> dict[str, Any]:
        return {
            "type": "content_block_delta",
            "index": self.block if index is None else index,
            "delta": delta,
        }
