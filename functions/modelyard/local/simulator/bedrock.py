"""Bedrock Converse / ConverseStream on the SIMULATED upstream: messages, `toolConfig` (tools
and `toolChoice` auto / any / tool) and `inferenceConfig` (maxTokens, stopSequences) read as
an `Ask`; the `Answer`'s first choice written as a Converse response or as ConverseStream's
events (the wire framing is `wire.bedrock_frame`)."""

from __future__ import annotations

import json
from typing import Any

from modelyard.local.simulator.anthropic import stop_reason
from modelyard.local.simulator.core import Answer, Ask, Tool, Turn

#: what a malformed fault sends instead of the answer (a stream gets wrong CRCs)
BROKEN = (b'{"output": {"message": ', None)


def ask(body: dict[str, Any]) -> Ask:
    turns = [Turn("system", _text(body["system"]))] if body.get("system") else []
    for message in body.get("messages") or []:
        blocks = message.get("content") or []
        is_result = any("toolResult" in b for b in blocks)
        turns.append(Turn("tool" if is_result else str(message.get("role")), _text(blocks)))
    config = body.get("toolConfig") or {}
    choice = config.get("toolChoice") or {}
    named = (choice.get("tool") or {}).get("name")
    inference = body.get("inferenceConfig") or {}
    return Ask(
        turns=turns,
        tools=[
            Tool(
                str((t.get("toolSpec") or {}).get("name")),
                ((t.get("toolSpec") or {}).get("inputSchema") or {}).get("json"),
            )
            for t in config.get("tools") or []
        ],
        tool_choice="required" if "any" in choice or named else "auto",
        allowed_tools=(str(named),) if named else None,
        stop=tuple(inference.get("stopSequences") or ()),
        max_tokens=inference.get("maxTokens"),
    )


def _text(blocks: list[dict[str, Any]]) -> str:
    return " ".join(str(b.get("text", "")) for b in blocks)


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "inputTokens": answer.prompt_tokens,
        "outputTokens": answer.completion_tokens,
        "totalTokens": answer.total_tokens,
        "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0,
    }


def _uses(answer: Answer) -> list[dict[str, Any]]:
    return [
        {"toolUseId": "tooluse_" + call.suffix, "name": call.name, "input": call.input}
        for call in answer.choices[0].tool_calls
    ]


def converse(answer: Answer) -> dict[str, Any]:
    choice = answer.choices[0]
    content: list[dict[str, Any]] = [{"text": choice.text}] if choice.pieces else []
    content += [{"toolUse": use} for use in _uses(answer)]
    out: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(choice),
        "usage": _usage(answer),
        "metrics": {"latencyMs": 1},
    }
    if choice.stop_sequence is not None:  # as Anthropic's models on Bedrock report it
        out["additionalModelResponseFields"] = {"stop_sequence": choice.stop_sequence}
    return out


def events(answer: Answer) -> list[tuple[str, dict[str, Any], bool]]:
    """(event type, payload, paced): text blocks have no start event, tool blocks do."""
    choice = answer.choices[0]
    events: list[tuple[str, dict[str, Any], bool]] = [
        ("messageStart", {"role": "assistant"}, False)
    ]
    index = 0
    if choice.pieces:
        events += [
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}, True)
            for i, piece in enumerate(choice.pieces)
        ]
        events.append(("contentBlockStop", {"contentBlockIndex": 0}, False))
        index = 1
    for offset, use in enumerate(_uses(answer)):
        block = index + offset
        start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
        delta = {"toolUse": {"input": json.dumps(use["input"])}}
        events += [
            ("contentBlockStart", {"contentBlockIndex": block, "start": start}, False),
            ("contentBlockDelta", {"contentBlockIndex": block, "delta": delta}, True),
            ("contentBlockStop", {"contentBlockIndex": block}, False),
        ]
    events.append(("messageStop", {"stopReason": stop_reason(choice)}, False))
    events.append(("metadata", {"usage": _usage(answer), "metrics": {"latencyMs": 1}}, False))
    return events
