"""The gateway's chat stream as the Responses API's event sequence.

`response.created` and `response.in_progress` open it; each output item is added, streamed
(`response.output_text.delta`, `response.function_call_arguments.delta`) and done before the
next is added; `response.completed` (or `response.incomplete`) closes it with the whole
response, usage included. Every event carries its `sequence_number`; one response id and its
item ids hold throughout. A failure after the first byte is an `error` event and then
`response.failed`. Unlike chat completions, the stream ends without `[DONE]`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from modelyard.openai_responses.bridge import (
    FINISH_STATUS,
    function_call_item,
    message_item,
    new_item_id,
    output_text,
    response_object,
    responses_usage,
)


class ResponseEventWriter:
    """Chat chunks in (`feed`), Responses events out; `response` is the final object."""

    def __init__(self, request: dict[str, Any], response_id: str) -> None:
        self.request = request
        self.id = response_id
        self.created_at = int(time.time())
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.open_index: int | None = None  # the output item being streamed
        self.calls: dict[int, int] = {}  # chat tool-call index -> output index
        self.model: str | None = None
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.meta: dict[str, Any] | None = None
        self.response: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if self.sequence == 0:
            self.model = chunk.get("model")
            opened = self._snapshot("in_progress", None)
            events += [
                self._event("response.created", response=opened),
                self._event("response.in_progress", response=opened),
            ]
        self.usage = chunk.get("usage") or self.usage
        self.meta = chunk.get("modelyard") or self.meta
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue  # a response has one answer
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events += self._text(delta["content"], (choice.get("logprobs") or {}))
            for call in delta.get("tool_calls") or []:
                events += self._call(call)
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
        return events

    def finish(self) -> list[dict[str, Any]]:
        """The closing events, once every chunk (the usage chunk too) is in."""
        events = self._close()
        status, incomplete = FINISH_STATUS.get(self.finish_reason or "", ("completed", None))
        self.response = self._snapshot(status, responses_usage(self.usage), incomplete)
        if self.meta is not None:
            self.response["modelyard"] = self.meta
        return [*events, self._event(f"response.{status}", response=self.response)]

    def fail(self, message: str) -> list[dict[str, Any]]:
        """The upstream failed after the first byte."""
        error = {"code": "server_error", "message": message}
        failed = self._snapshot("failed", responses_usage(self.usage))
        failed["error"] = error
        return [
            self._event("error", code="server_error", message=message, param=None),
            self._event("response.failed", response=failed),
        ]

    # -- items ---------------------------------------------------------------------------------
    def _text(self, text: str, logprobs: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        item = self._open_item()
        if item is None or item["type"] != "message":
            events += self._close()
            item = message_item(new_item_id("msg"), "in_progress", [])
            events += self._add(item)
            part = output_text("")
            item["content"].append(part)
            events.append(self._event("response.content_part.added", **self._at(), part=part))
        part = item["content"][0]
        part["text"] += text
        pieces = logprobs.get("content") or []
        part["logprobs"] += pieces
        events.append(
            self._event("response.output_text.delta", **self._at(), delta=text, logprobs=pieces)
        )
        return events

    def _call(self, call: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        function = call.get("function") or {}
        position = call.get("index", 0)
        if call.get("id") or position not in self.calls:
            events += self._close()
            call_id = call.get("id") or new_item_id("call")
            item = function_call_item(
                new_item_id("fc"), call_id, {"name": function.get("name")}, "in_progress"
            )
            events += self._add(item)
            self.calls[position] = self.open_index  # type: ignore[assignment]
        index = self.calls[position]
        item = self.output[index]
        if function.get("name") and not item["name"]:
            item["name"] = function["name"]
        if function.get("arguments"):
            item["arguments"] += function["arguments"]
            if index == self.open_index:  # a late piece of a closed call only joins its item
                events.append(
                    self._event(
                        "response.function_call_arguments.delta",
                        item_id=item["id"],
                        output_index=index,
                        delta=function["arguments"],
                    )
                )
        return events

    def _open_item(self) -> dict[str, Any] | None:
        return None if self.open_index is None else self.output[self.open_index]

    def _add(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        self.output.append(item)
        self.open_index = len(self.output) - 1
        added = json.loads(json.dumps(item))  # as it was when added, not as it grows
        return [self._event("response.output_item.added", output_index=self.open_index, item=added)]

    def _close(self) -> list[dict[str, Any]]:
        item = self._open_item()
        if item is None:
            return []
        events: list[dict[str, Any]] = []
        if item["type"] == "message":
            part = item["content"][0]
            events += [
                self._event(
                    "response.output_text.done",
                    **self._at(),
                    text=part["text"],
                    logprobs=part["logprobs"],
                ),
                self._event("response.content_part.done", **self._at(), part=part),
            ]
        else:
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=self.open_index,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
        item["status"] = "completed"
        events.append(
            self._event("response.output_item.done", output_index=self.open_index, item=item)
        )
        self.open_index = None
        return events

    def _at(self) -> dict[str, Any]:
        item = self._open_item()
        assert item is not None
        return {"item_id": item["id"], "output_index": self.open_index, "content_index": 0}

    def _snapshot(
        self, status: str, usage: dict[str, Any] | None, incomplete: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        output = json.loads(json.dumps(self.output))
        return response_object(
            self.request, self.id, self.created_at, status, output, usage, self.model, incomplete
        )

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event
