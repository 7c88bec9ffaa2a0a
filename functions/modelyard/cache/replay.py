"""Between a completion and its stream: a cached answer replayed as SSE, and a streamed
answer assembled into the completion that is cached.

The replay is what OpenAI itself sends: per choice a role chunk, the content, each tool call
(id, name and arguments in one delta), a finish chunk; then, with `include_usage`, the usage
chunk (empty `choices`, carrying the `modelyard` object as the live stream's does) and
`data: [DONE]`.
"""

from __future__ import annotations

import json
from typing import Any

CHUNK_OBJECT = "chat.completion.chunk"


def replay(body: dict[str, Any], include_usage: bool, meta: dict[str, Any]) -> list[bytes]:
    """SSE frames of the cached completion `body`, ending with `data: [DONE]`."""
    head = {
        "id": body.get("id"),
        "object": CHUNK_OBJECT,
        "created": body.get("created"),
        "model": body.get("model"),
    }
    if body.get("system_fingerprint") is not None:
        head["system_fingerprint"] = body["system_fingerprint"]

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out = {
            **head,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }
        if include_usage:
            out["usage"] = None
        return out

    chunks: list[dict[str, Any]] = []
    for position, choice in enumerate(body.get("choices") or []):
        index = choice.get("index", position)
        message = choice.get("message") or {}
        chunks.append(chunk(index, {"role": "assistant", "content": ""}))
        if message.get("content"):
            chunks.append(chunk(index, {"content": message["content"]}))
        if message.get("refusal"):
            chunks.append(chunk(index, {"refusal": message["refusal"]}))
        for n, call in enumerate(message.get("tool_calls") or []):
            function = call.get("function") or {}
            delta = {
                "index": n,
                "id": call.get("id"),
                "type": call.get("type", "function"),
                "function": {
                    "name": function.get("name"),
                    "arguments": function.get("arguments", ""),
                },
            }
            chunks.append(chunk(index, {"tool_calls": [delta]}))
        chunks.append(chunk(index, {}, choice.get("finish_reason") or "stop"))
    if include_usage:
        final: dict[str, Any] = {
            **head,
            "choices": [],
            "usage": body.get("usage"),
            "modelyard": meta,
        }
        chunks.append(final)
    frames = [b"data: " + json.dumps(c, separators=(",", ":")).encode() + b"\n\n" for c in chunks]
    frames.append(b"data: [DONE]\n\n")
    return frames


class StreamAssembler:
    """Collects a stream's chunks (OpenAI chunk JSON) into the completion they spell."""

    def __init__(self) -> None:
        self.head: dict[str, Any] = {}
        self.choices: dict[int, dict[str, Any]] = {}

    def feed(self, raw: bytes) -> None:
        chunk = json.loads(raw)
        if not self.head:
            self.head = {k: chunk.get(k) for k in ("id", "created", "model", "system_fingerprint")}
        for delta_choice in chunk.get("choices") or []:
            index = int(delta_choice.get("index") or 0)
            choice = self.choices.setdefault(
                index, {"content": [], "refusal": [], "calls": {}, "finish": None}
            )
            delta = delta_choice.get("delta") or {}
            if delta.get("content"):
                choice["content"].append(delta["content"])
            if delta.get("refusal"):
                choice["refusal"].append(delta["refusal"])
            for call in delta.get("tool_calls") or []:
                entry = choice["calls"].setdefault(
                    int(call.get("index") or 0), {"id": None, "name": None, "arguments": []}
                )
                function = call.get("function") or {}
                entry["id"] = call.get("id") or entry["id"]
                entry["name"] = function.get("name") or entry["name"]
                if function.get("arguments"):
                    entry["arguments"].append(function["arguments"])
            if delta_choice.get("finish_reason"):
                choice["finish"] = delta_choice["finish_reason"]

    def completion(self, usage: dict[str, Any]) -> dict[str, Any] | None:
        """The assembled completion, or None when a choice never finished."""
        if not self.choices or any(c["finish"] is None for c in self.choices.values()):
            return None
        choices = []
        for index, c in sorted(self.choices.items()):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": "".join(c["content"]) or None,
                "refusal": "".join(c["refusal"]) or None,
            }
            if c["calls"]:
                message["tool_calls"] = [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": "".join(call["arguments"])},
                    }
                    for _, call in sorted(c["calls"].items())
                ]
            choices.append(
                {"index": index, "message": message, "logprobs": None, "finish_reason": c["finish"]}
            )
        body = {
            "id": self.head.get("id"),
            "object": "chat.completion",
            "created": self.head.get("created"),
            "model": self.head.get("model"),
            "choices": choices,
            "usage": usage,
        }
        if self.head.get("system_fingerprint") is not None:
            body["system_fingerprint"] = self.head["system_fingerprint"]
        return body
