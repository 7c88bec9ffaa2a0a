"""OpenAI's Responses API as an upstream, for a `/v1/responses` request passed through as
sent (providers.native) to a provider that speaks it (dialect `openai-responses`).

The answer goes back to the client as OpenAI wrote it; the gateway reads from it what it
reads from any answer: the usage to price, and a chat completion for the response cache.
"""

from __future__ import annotations

from typing import Any

from modelyard.catalog import Model
from modelyard.pricing.prices import TokenUsage
from modelyard.providers.base import (
    ChatResult,
    StreamState,
    StreamTranslator,
    choice,
    openai_usage,
    tool_call,
)
from modelyard.providers.errors import ErrorKind, UpstreamError, kind_for_status
from modelyard.providers.native import event_frame

#: a Responses status and why it stopped, as a chat finish reason
FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


def responses_payload(native: dict[str, Any], model: Model, stream: bool) -> dict[str, Any]:
    payload = {**native, "model": model.upstream}
    if stream:
        payload["stream"] = True
    else:
        payload.pop("stream", None)
    return payload


def usage_from_responses(usage: Any) -> TokenUsage | None:
    if not isinstance(usage, dict):
        return None
    return TokenUsage(
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        cached_tokens=int((usage.get("input_tokens_details") or {}).get("cached_tokens") or 0),
        reasoning_tokens=int(
            (usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
        ),
    )


def chat_result(data: Any) -> ChatResult:
    """A response object as a chat completion (priced and cached like any), keeping it whole
    as the native answer; `ValueError` for anything that is not one."""
    usage = usage_from_responses(data.get("usage")) if isinstance(data, dict) else None
    output = data.get("output") if isinstance(data, dict) else None
    if usage is None or data.get("object") != "response" or not isinstance(output, list):
        raise ValueError("not a response with usage")
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in output:
        if item.get("type") == "message":
            texts += [p.get("text", "") for p in item.get("content") or [] if "text" in p]
        elif item.get("type") == "function_call":
            calls.append(tool_call(item.get("call_id"), item.get("name"), item.get("arguments")))
    reason = (data.get("incomplete_details") or {}).get("reason")
    finish = FINISH.get(str(reason), "tool_calls" if calls else "stop")
    body = {
        "id": data.get("id"),
        "object": "chat.completion",
        "created": data.get("created_at"),
        "model": data.get("model"),
        "choices": [choice(0, texts, calls, finish)],
        "usage": openai_usage(usage),
    }
    return ChatResult(body=body, usage=usage, native=data)


class ResponsesTranslator(StreamTranslator):
    """A Responses stream's events, read for what the gateway needs (usage, the finish, the
    count of deltas); its failure events raise. The events themselves go out as they are."""

    def __init__(self, state: StreamState) -> None:
        super().__init__(state)
        self.sequence = -1

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = str(event.get("type"))
        self.sequence = int(event.get("sequence_number") or self.sequence + 1)
        if kind in ("response.output_text.delta", "response.function_call_arguments.delta"):
            return [event]
        if kind in ("response.completed", "response.incomplete"):
            response = event.get("response") or {}
            usage = usage_from_responses(response.get("usage"))
            if usage is not None:
                self.end(usage)
            reason = (response.get("incomplete_details") or {}).get("reason")
            self.state.finish_reason = FINISH.get(str(reason), "stop")
            self.done = True
        elif kind in ("response.failed", "error"):
            error = (event.get("response") or {}).get("error") or event
            message = str(error.get("message") or "unknown")
            code = str(error.get("code") or "")
            failure = kind_for_status(int(code), message) if code.isdigit() else None
            raise UpstreamError(
                failure or ErrorKind.SERVER_ERROR, f"responses stream error: {message}"
            )
        return []

    def error_frame(self, message: str) -> bytes:
        """The stream failing after the first byte, as the Responses API says it."""
        self.sequence += 1
        event = {
            "type": "error",
            "code": "server_error",
            "message": message,
            "param": None,
            "sequence_number": self.sequence,
        }
        return event_frame(event)
