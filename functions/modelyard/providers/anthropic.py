"""Anthropic's Messages API, translated to and from OpenAI's Chat Completions shapes.

Request: system/developer messages become `system`; tool calls and tool results become
`tool_use` / `tool_result` blocks; images become image blocks; JSON mode, which Messages
lacks, becomes a system instruction. Response and stream: content blocks become an OpenAI
message or chunks; usage is normalised (Anthropic reports cache reads and writes apart from
`input_tokens`; OpenAI's convention counts them inside the prompt).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from modelyard.catalog import Model, Provider
from modelyard.pricing.prices import TokenUsage
from modelyard.providers.base import ChatResult, StreamState
from modelyard.providers.credentials import provider_api_key
from modelyard.providers.errors import ErrorKind, UpstreamError
from modelyard.providers.http import http_client
from modelyard.providers.openai_compat import http_error, transport_error

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


def openai_usage(usage: TokenUsage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


# -- request ---------------------------------------------------------------------------------
def _blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            block: dict[str, Any] = {"type": "text", "text": part.get("text", "")}
            if "cache_control" in part:
                block["cache_control"] = part["cache_control"]
            blocks.append(block)
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if url.startswith("data:"):
                header, _, data = url.partition(",")
                media_type = header[5:].split(";")[0] or "image/png"
                source = {"type": "base64", "media_type": media_type, "data": data}
            else:
                source = {"type": "url", "url": url}
            blocks.append({"type": "image", "source": source})
    return blocks


def to_anthropic(body: dict[str, Any], model: Model, stream: bool) -> dict[str, Any]:
    system: list[str] = []
    messages: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)  # Anthropic wants alternating turns
        else:
            messages.append({"role": role, "content": blocks})

    for message in body.get("messages") or []:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system.extend(b["text"] for b in _blocks(content) if b["type"] == "text")
        elif role == "assistant":
            blocks = _blocks(content)
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                try:
                    arguments = json.loads(function.get("arguments") or "{}")
                except ValueError:
                    arguments = {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id"),
                        "name": function.get("name"),
                        "input": arguments,
                    }
                )
            add("assistant", blocks)
        elif role in ("tool", "function"):
            text = content if isinstance(content, str) else json.dumps(content)
            add(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": message.get("tool_call_id"),
                        "content": text,
                    }
                ],
            )
        else:
            add("user", _blocks(content))

    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_object":
        system.append("Respond with a single valid JSON object and nothing else.")
    elif response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema", {})
        system.append(
            "Respond with a single JSON object that matches this JSON schema, "
            f"and nothing else: {json.dumps(schema)}"
        )

    out: dict[str, Any] = {
        "model": model.upstream,
        "messages": messages,
        "max_tokens": body.get("max_completion_tokens")
        or body.get("max_tokens")
        or min(DEFAULT_MAX_TOKENS, model.max_output_tokens),
    }
    if system:
        out["system"] = "\n\n".join(system)
    if body.get("temperature") is not None:
        out["temperature"] = min(float(body["temperature"]), 1.0)  # Anthropic's range is 0..1
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("user"):
        out["metadata"] = {"user_id": body["user"]}
    tools = body.get("tools")
    if tools:
        out["tools"] = [
            {
                "name": t["function"]["name"],
                "description": t["function"].get("description", ""),
                "input_schema": t["function"].get("parameters") or {"type": "object"},
            }
            for t in tools
        ]
        choice = _tool_choice(body.get("tool_choice"))
        if body.get("parallel_tool_calls") is False:
            choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
        if choice:
            out["tool_choice"] = choice
    if stream:
        out["stream"] = True
    return out


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    return None


# -- response --------------------------------------------------------------------------------
def to_openai(data: dict[str, Any]) -> ChatResult:
    texts = []
    tool_calls = []
    for block in data.get("content") or []:
        if block.get("type") == "text":
            texts.append(block.get("text", ""))
        elif block.get("type") == "tool_use":
            tool_calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": json.dumps(block.get("input") or {}),
                    },
                }
            )
    usage = usage_from_anthropic(data.get("usage") or {})
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    body = {
        "id": data.get("id"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": data.get("model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": FINISH_REASONS.get(str(data.get("stop_reason")), "stop"),
            }
        ],
        "usage": openai_usage(usage),
    }
    return ChatResult(body=body, usage=usage)


def anthropic_error(status: int, content: bytes, headers: httpx.Headers) -> UpstreamError:
    error = http_error(status, content, headers)
    try:
        kind = (json.loads(content).get("error") or {}).get("type")
    except (ValueError, AttributeError):
        kind = None
    if kind in ERROR_KINDS and kind != "invalid_request_error":
        error.kind = ERROR_KINDS[kind]  # invalid requests keep the message-based mapping
    return error


class AnthropicAdapter:
    def _request(
        self, provider: Provider, model: Model, body: dict[str, Any], stream: bool
    ) -> httpx.Request:
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        key = provider_api_key(provider.api_key_env)
        if key:
            headers["x-api-key"] = key
        return http_client().build_request(
            "POST",
            provider.base_url.rstrip("/") + "/v1/messages",
            content=json.dumps(to_anthropic(body, model, stream), separators=(",", ":")),
            headers=headers,
        )

    async def chat(self, provider: Provider, model: Model, body: dict[str, Any]) -> ChatResult:
        try:
            response = await http_client().send(self._request(provider, model, body, False))
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        if response.status_code >= 400:
            raise anthropic_error(response.status_code, response.content, response.headers)
        try:
            data = response.json()
            if data.get("type") != "message":
                raise ValueError("not a message")
            return to_openai(data)
        except (ValueError, AttributeError) as exc:
            raise UpstreamError(
                ErrorKind.MALFORMED_RESPONSE, f"malformed response from {provider.id}: {exc}"
            ) from exc

    async def stream(
        self, provider: Provider, model: Model, body: dict[str, Any], state: StreamState
    ) -> AsyncIterator[bytes]:
        try:
            response = await http_client().send(
                self._request(provider, model, body, True), stream=True
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        translator = _StreamTranslator(state)
        try:
            if response.status_code >= 400:
                raise anthropic_error(
                    response.status_code, await response.aread(), response.headers
                )
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue  # "event:" names repeat the data's own "type"
                try:
                    event = json.loads(line[5:])
                except ValueError as exc:
                    raise UpstreamError(
                        ErrorKind.MALFORMED_RESPONSE, f"malformed stream event from {provider.id}"
                    ) from exc
                for chunk in translator.feed(event):
                    state.chunks += 1
                    yield json.dumps(chunk, separators=(",", ":")).encode()
                if translator.done:
                    return
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        finally:
            await response.aclose()


class _StreamTranslator:
    """Anthropic stream events in, OpenAI chunks out."""

    def __init__(self, state: StreamState) -> None:
        self.state = state
        self.id = ""
        self.model = ""
        self.created = int(time.time())
        self.usage: dict[str, Any] = {}
        self.tool_index: dict[int, int] = {}
        self.done = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self.id = message.get("id", "")
            self.model = message.get("model", "")
            self.usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self.tool_index.setdefault(event.get("index", 0), len(self.tool_index))
                return [
                    self._chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": index,
                                    "id": block.get("id"),
                                    "type": "function",
                                    "function": {"name": block.get("name"), "arguments": ""},
                                }
                            ]
                        }
                    )
                ]
            return []
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [self._chunk({"content": delta.get("text", "")})]
            if delta.get("type") == "input_json_delta":
                index = self.tool_index.get(event.get("index", 0), 0)
                return [
                    self._chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": index,
                                    "function": {"arguments": delta.get("partial_json", "")},
                                }
                            ]
                        }
                    )
                ]
            return []
        if kind == "message_delta":
            self.usage.update(event.get("usage") or {})
            reason = (event.get("delta") or {}).get("stop_reason")
            finish = FINISH_REASONS.get(str(reason), "stop")
            self.state.finish_reason = finish
            return [self._chunk({}, finish)]
        if kind == "message_stop":
            usage = usage_from_anthropic(self.usage)
            self.state.usage = usage
            final = self._chunk({})
            final["choices"] = []
            final["usage"] = openai_usage(usage)
            self.state.usage_chunk = final
            self.done = True
            return []
        if kind == "error":
            error = event.get("error") or {}
            raise UpstreamError(
                ERROR_KINDS.get(str(error.get("type")), ErrorKind.SERVER_ERROR),
                f"anthropic stream error: {error.get('message', 'unknown')}",
            )
        return []  # ping and future event types
