"""Anthropic Messages on the SIMULATED upstream: the request read as an `Ask` (through the
gateway's own Messages-to-OpenAI translation, plus structured output's `output_format` /
`output_config.format`), the `Answer`'s first choice written as a `message` or its SSE events."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from modelyard.local.simulator import openai_chat
from modelyard.local.simulator.core import Answer, Ask, Choice
from modelyard.local.simulator.wire import Frames, first_token_unpaced, named_event
from modelyard.providers.anthropic import openai_request

#: what a malformed fault sends instead of the answer (whole, streamed)
BROKEN = (
    b'{"type": "message", "content": [',
    b'event: message_start\ndata: {"type": "message_start", \n\n',
)


def ask(body: dict[str, Any]) -> Ask:
    seen = openai_chat.ask(openai_request(body))
    output = body.get("output_format") or (body.get("output_config") or {}).get("format") or {}
    schema = output.get("schema") if output.get("type") == "json_schema" else None
    return dataclasses.replace(seen, schema=schema)


def stop_reason(choice: Choice) -> str:
    """Anthropic's stop reasons (Bedrock Converse uses the same words)."""
    if choice.tool_calls:
        return "tool_use"
    if choice.finish == "length":
        return "max_tokens"
    return "stop_sequence" if choice.stop_sequence is not None else "end_turn"


def _usage(answer: Answer, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": answer.prompt_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _blocks(choice: Choice) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": choice.text}] if choice.pieces else []
    return blocks + [
        {
            "type": "tool_use",
            "id": "toolu_sim" + call.suffix,
            "name": call.name,
            "input": call.input,
        }
        for call in choice.tool_calls
    ]


def message(answer: Answer) -> dict[str, Any]:
    choice = answer.choices[0]
    return {
        "id": "msg_sim" + answer.id,
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": _blocks(choice),
        "stop_reason": stop_reason(choice),
        "stop_sequence": choice.stop_sequence,
        "usage": _usage(answer, answer.completion_tokens),
    }


def events(answer: Answer) -> Frames:
    """message_start, per block its start, deltas and stop (a ping after the first start),
    message_delta with the stop reason and the output tokens, message_stop."""
    choice = answer.choices[0]
    start = {
        **message(answer),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(answer, 1),
    }
    out: list[tuple[dict[str, Any], bool]] = [({"type": "message_start", "message": start}, False)]
    for index, block in enumerate(_blocks(choice)):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in choice.pieces]
        else:
            opening = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
        out.append(
            ({"type": "content_block_start", "index": index, "content_block": opening}, False)
        )
        if index == 0:
            out.append(({"type": "ping"}, False))
        out += [({"type": "content_block_delta", "index": index, "delta": d}, True) for d in deltas]
        out.append(({"type": "content_block_stop", "index": index}, False))
    delta = {"stop_reason": stop_reason(choice), "stop_sequence": choice.stop_sequence}
    usage = {"output_tokens": answer.completion_tokens}
    out.append(({"type": "message_delta", "delta": delta, "usage": usage}, False))
    out.append(({"type": "message_stop"}, False))
    return first_token_unpaced([(named_event(event), wait) for event, wait in out])
