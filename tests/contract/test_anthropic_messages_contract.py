"""Inbound Messages API translation against shapes from Anthropic's docs, and its agreement
with the outbound Anthropic adapter (each direction undoes the other)."""

from __future__ import annotations

import json
from pathlib import Path

from modelyard.providers.anthropic import (
    MessageEventWriter,
    _StreamTranslator,
    message_from_openai,
    openai_request,
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
