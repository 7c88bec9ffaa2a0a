"""Inbound Messages API translation against shapes from Anthropic's docs, and its agreement
with the outbound Anthropic adapter (each direction undoes the other)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelyard.catalog import Capabilities, Model
from modelyard.providers.anthropic import (
    MessageEventWriter,
    _StreamTranslator,
    message_from_openai,
    openai_request,
    to_anthropic,
)
from modelyard.providers.base import StreamState

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "anthropic_messages.json").read_text())


def test_messages_request_becomes_an_openai_chat_body():
    request = FIXTURES["request"]
    assert openai_request(request["anthropic"]) == request["openai"]


def test_openai_completion_becomes_an_anthropic_message():
    completion = FIXTURES["completion"]
    assert message_from_openai(completion["openai"], "msg_1") == completion["anthropic"]


def test_openai_chunks_become_anthropic_events_in_the_documented_order():
    writer = MessageEventWriter("msg_1")
    events = [e for chunk in FIXTURES["stream"]["chunks"] for e in writer.feed(chunk)]
    events += writer.finish()
    assert [e["type"] for e in events] == FIXTURES["stream"]["events"]
    assert [e["index"] for e in events if e["type"] == "content_block_start"] == [0, 1]
    delta = next(e for e in events if e["type"] == "message_delta")
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"]["input_tokens"] == 12 and delta["usage"]["output_tokens"] == 9


def test_events_replayed_through_the_outbound_adapter_give_back_the_chunks():
    writer = MessageEventWriter("msg_1")
    chunks = FIXTURES["stream"]["chunks"]
    events = [e for chunk in chunks for e in writer.feed(chunk)] + writer.finish()
    state = StreamState()
    translator = _StreamTranslator(state)
    replayed = [c for event in events for c in translator.feed(event)]
    assert [c["choices"][0]["delta"] for c in replayed] == [
        c["choices"][0]["delta"] for c in chunks if c["choices"]
    ]
    assert state.usage is not None and state.usage.total_tokens == 21


CLAUDE = Model(
    "claude-4-sonnet", "anthropic", "claude-sonnet-4-20250514", "chat", 200000, 64000,
    Capabilities(True, True, True), 800, 55,
)  # fmt: skip


def test_thinking_top_k_and_server_tools_cross_the_translation_and_come_back_exactly():
    carried = FIXTURES["carried"]
    assert openai_request(carried["anthropic"]) == carried["openai"]
    assert to_anthropic(carried["openai"], CLAUDE, stream=False) == carried["upstream"]


@pytest.mark.parametrize(
    ("effort", "max_tokens", "budget", "sent_max_tokens"),
    [("low", 4000, 1024, 4000), ("medium", 1000, 8192, 9192), ("high", None, 24576, 28672)],
)
def test_reasoning_effort_becomes_extended_thinking_with_room_for_the_answer(
    effort: str, max_tokens: int | None, budget: int, sent_max_tokens: int
):
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "Prove it."}]}
    body.update(reasoning_effort=effort, **({"max_tokens": max_tokens} if max_tokens else {}))
    sent = to_anthropic(body, CLAUDE, stream=False)
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert sent["max_tokens"] == sent_max_tokens > budget


def test_reasoning_effort_none_sends_no_thinking():
    body = {"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "none"}
    assert "thinking" not in to_anthropic(body, CLAUDE, stream=False)
