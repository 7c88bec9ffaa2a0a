"""A JSON-schema answer from APIs whose structured output is a forced tool call (Anthropic
Messages, Bedrock Converse): the schema goes up as the tool, its call comes back as text."""

from __future__ import annotations

import json

from modelyard.catalog import Capabilities, Model
from modelyard.providers.anthropic import _StreamTranslator as AnthropicStream
from modelyard.providers.anthropic import to_anthropic
from modelyard.providers.anthropic import to_openai as anthropic_to_openai
from modelyard.providers.base import ANSWER_TOOL, StreamState
from modelyard.providers.bedrock import to_converse

MODEL = Model("m", "p", "m-up", "chat", 200000, 8192, Capabilities(tools=True, json=True), 1, 1)
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
BODY = {
    "messages": [{"role": "user", "content": "Count"}],
    "response_format": {"type": "json_schema", "json_schema": {"name": "count", "schema": SCHEMA}},
}


def test_the_schema_goes_up_as_a_forced_tool() -> None:
    anthropic = to_anthropic(BODY, MODEL, stream=False)
    assert anthropic["tools"] == [
        {
            "name": ANSWER_TOOL,
            "description": "Answer with the count object.",
            "input_schema": SCHEMA,
        }
    ]
    assert anthropic["tool_choice"] == {"type": "tool", "name": ANSWER_TOOL}
    assert "system" not in anthropic  # no instruction beside the tool
    converse = to_converse(BODY, MODEL)
    assert converse["toolConfig"]["toolChoice"] == {"tool": {"name": ANSWER_TOOL}}
    assert converse["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {"json": SCHEMA}


def test_with_tools_of_its_own_or_thinking_the_schema_is_an_instruction() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    with_tools = to_anthropic({**BODY, "tools": [tool]}, MODEL, stream=False)
    assert [t["name"] for t in with_tools["tools"]] == ["f"]
    assert "JSON schema" in with_tools["system"]
    thinking = to_anthropic({**BODY, "reasoning_effort": "low"}, MODEL, stream=False)
    assert "tools" not in thinking and "JSON schema" in thinking["system"]


def test_the_tool_call_comes_back_as_the_answer_s_text() -> None:
    message = {
        "type": "message",
        "id": "msg_1",
        "model": "m-up",
        "stop_reason": "tool_use",
        "content": [{"type": "tool_use", "id": "t1", "name": ANSWER_TOOL, "input": {"n": 3}}],
        "usage": {"input_tokens": 5, "output_tokens": 4},
    }
    [choice] = anthropic_to_openai(message).body["choices"]
    assert json.loads(choice["message"]["content"]) == {"n": 3}
    assert "tool_calls" not in choice["message"] and choice["finish_reason"] == "stop"


def test_a_streamed_tool_call_streams_as_text() -> None:
    translator = AnthropicStream(StreamState())
    events = [
        {"type": "message_start", "message": {"id": "m", "model": "m-up", "usage": {}}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t1", "name": ANSWER_TOOL},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"n":'},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": "3}"},
        },
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 4},
        },
    ]
    chunks = [chunk for event in events for chunk in translator.feed(event)]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content") or "" for d in deltas) == '{"n":3}'
    assert not any("tool_calls" in d for d in deltas)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
