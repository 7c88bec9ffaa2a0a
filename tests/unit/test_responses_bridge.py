"""The Responses API bridge: requests as chat bodies, chat answers and streams as responses."""

from __future__ import annotations

import pytest

from modelyard.errors import InvalidRequest
from modelyard.openai_responses import bridge
from modelyard.openai_responses.bridge import input_items, response_from_chat
from modelyard.openai_responses.events import ResponseEventWriter
from modelyard.providers.native import NATIVE

TOOL = {"type": "function", "name": "lookup", "parameters": {"type": "object"}, "strict": True}


def chat_body(request: dict, history: list | None = None) -> dict:
    return bridge.chat_body(request, history or [], input_items(request["input"]))


def test_input_instructions_and_history_become_chat_messages() -> None:
    history = [
        {"type": "message", "role": "user", "content": "Earlier"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},  # run upstream
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Yes"}],
        },
    ]
    body = chat_body({"model": "m", "input": "Now", "instructions": "Be brief."}, history)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Earlier"},
        {"role": "assistant", "content": "Yes"},
        {"role": "user", "content": "Now"},
    ]


def test_the_request_rides_along_as_sent_with_the_chain_spelled_out() -> None:
    history = [
        {"type": "message", "id": "msg_1", "role": "user", "content": "Earlier"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
    ]
    request = {
        "model": "m",
        "input": "Now",
        "previous_response_id": "resp_1",
        "tools": [TOOL, {"type": "web_search"}],
        "tool_choice": {"type": "web_search"},
        "modelyard": {"policy": "cost"},
    }
    body = chat_body(request, history)
    native = body[NATIVE]
    assert native["dialect"] == "openai-responses"
    assert native["hosted_tools"] == [{"type": "web_search"}]  # a routing constraint
    assert native["body"]["input"] == [
        {"type": "message", "role": "user", "content": "Earlier"},
        {"type": "web_search_call", "status": "completed"},
        {"role": "user", "content": "Now"},
    ]
    assert native["body"]["store"] is False and "previous_response_id" not in native["body"]
    assert "modelyard" not in native["body"] and body["modelyard"] == {"policy": "cost"}
    assert [t["function"]["name"] for t in body["tools"]] == ["lookup"]
    assert "tool_choice" not in body  # a hosted choice is the upstream's to honour


def test_function_calls_join_one_assistant_message_and_outputs_become_tool_messages() -> None:
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "lookup", "arguments": '{"a":1}'},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {
            "type": "function_call_output",
            "call_id": "c2",
            "output": [{"type": "input_text", "text": "wet"}],
        },
    ]
    messages = chat_body({"model": "m", "input": items}, [])["messages"]
    assert messages[0] == {"role": "user", "content": "Weather?"}
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["c1", "c2"]
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": "wet"},
    ]


def test_settings_map_to_their_chat_names() -> None:
    body = chat_body(
        {
            "model": "m",
            "input": "x",
            "max_output_tokens": 50,
            "reasoning": {"effort": "low"},
            "top_logprobs": 2,
            "text": {"format": {"type": "json_schema", "name": "v", "schema": {"type": "object"}}},
            "tools": [TOOL],
            "tool_choice": {"type": "function", "name": "lookup"},
            "temperature": 0.2,
            "metadata": {"k": "v"},
            "stream": True,
        },
        [],
    )
    assert body["max_completion_tokens"] == 50 and body["reasoning_effort"] == "low"
    assert body["logprobs"] is True and body["top_logprobs"] == 2
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "v", "schema": {"type": "object"}},
    }
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "lookup", "parameters": {"type": "object"}, "strict": True},
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert body["stream_options"] == {"include_usage": True}
    assert "metadata" not in body  # echoed in the response, not in the chat body


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tool_choice": {"type": "file_search"}}, "tool_choice"),
        ({"background": True}, "background"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "input[0].content[0].type",
        ),
    ],
)
def test_what_chat_cannot_carry_is_refused_by_name(extra: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        chat_body({"model": "m", "input": "x", **extra}, [])
    assert raised.value.param == param


def test_input_items_get_ids_and_parts_as_openai_lists_them() -> None:
    [item] = input_items("hello")
    assert item["id"].startswith("msg_") and item["type"] == "message"
    assert item["content"] == [{"type": "input_text", "text": "hello"}]


def test_a_chat_answer_becomes_output_items_with_usage_details() -> None:
    completion = {
        "model": "gpt-4o",
        "created": 1,
        "choices": [
            {
                "finish_reason": "length",
                "message": {
                    "content": "Partial",
                    "tool_calls": [
                        {"id": "call_1", "function": {"name": "lookup", "arguments": "{}"}}
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    }
    response = response_from_chat(completion, {"model": "auto", "store": False}, "resp_1")
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    message, call = response["output"]
    assert message["content"][0]["text"] == "Partial"
    assert call["type"] == "function_call" and call["call_id"] == "call_1"
    assert response["usage"] == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 4},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 2},
        "total_tokens": 15,
    }
    assert response["model"] == "gpt-4o" and response["store"] is False


def _chunk(delta: dict | None = None, finish: str | None = None, **extra) -> dict:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"model": "gpt-4o", "choices": choices, **extra}


def test_the_event_sequence_adds_streams_and_closes_each_item_in_turn() -> None:
    writer = ResponseEventWriter({"model": "auto"}, "resp_1")
    events = writer.feed(_chunk({"content": "Hel"}))
    events += writer.feed(_chunk({"content": "lo"}))
    call = {"index": 0, "id": "call_1", "function": {"name": "lookup", "arguments": '{"a"'}}
    events += writer.feed(_chunk({"tool_calls": [call]}))
    events += writer.feed(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}))
    events += writer.feed(_chunk({}, "tool_calls"))
    usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    events += writer.feed(_chunk(usage=usage, modelyard={"cost_usd": "0.01"}))
    events += writer.finish()
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[2]["item"]["content"] == []  # as added, not as it grew
    final = events[-1]["response"]
    assert final["output"][0]["content"][0]["text"] == "Hello"
    assert final["output"][1]["arguments"] == '{"a":1}'
    assert final["usage"]["output_tokens"] == 4 and final["modelyard"] == {"cost_usd": "0.01"}
    assert writer.response is final


def test_a_failure_mid_stream_is_an_error_then_response_failed() -> None:
    writer = ResponseEventWriter({"model": "auto"}, "resp_1")
    writer.feed(_chunk({"content": "Hi"}))
    error, failed = writer.fail("upstream cut")
    assert error["type"] == "error" and error["message"] == "upstream cut"
    assert failed["response"]["status"] == "failed"
    assert failed["sequence_number"] == error["sequence_number"] + 1
