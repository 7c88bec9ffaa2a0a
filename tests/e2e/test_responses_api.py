"""The openai SDK's Responses API against the gateway on a real uvicorn (simulated upstreams):
create, stream, parse, a `previous_response_id` chain, a function-tool round trip, stored
responses, and the errors a bridged call gives rather than a lesser answer. Stored responses
stay with their tenant: tests/security/test_tenant_isolation.py."""

from __future__ import annotations

import json
from decimal import Decimal

import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel

from modelyard.local.stack import LocalStack
from tests.helpers import ledger_items

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


@pytest.fixture
def client(stack: LocalStack) -> OpenAI:
    return OpenAI(base_url=stack.base_url, api_key=stack.api_key, max_retries=0)  # type: ignore[attr-defined]


@pytest.mark.compat("openai (Python)", "responses.create")
@pytest.mark.parametrize("model", ["gpt-4o", "claude-4-sonnet", "gemini-2.5-flash"])
def test_create_answers_a_response_priced_and_ledgered(
    client: OpenAI, stack: LocalStack, model: str
) -> None:
    raw = client.responses.with_raw_response.create(
        model=model,
        instructions="Answer briefly.",
        input="Say hello [sim:tokens=7]",
        metadata={"ticket": "42"},
    )
    response = raw.parse()
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.output_text
    assert response.metadata == {"ticket": "42"}
    assert response.usage is not None and response.usage.output_tokens == 7
    assert response.usage.total_tokens == response.usage.input_tokens + 7
    assert raw.headers["x-request-id"] == raw.headers["x-modelyard-request-id"]
    assert response.id == "resp_" + raw.headers["x-request-id"].removeprefix("req_")
    meta = (response.model_extra or {})["modelyard"]
    assert meta["cost_usd"] == raw.headers["x-modelyard-cost-usd"]
    stack.poller.drain()
    [entry] = ledger_items(raw.headers["x-request-id"])
    assert entry["cost_usd"] == Decimal(meta["cost_usd"]) and entry["output_tokens"] == 7


@pytest.mark.compat("openai (Python)", "responses.create(stream=True)")
def test_stream_sends_the_documented_event_sequence(client: OpenAI) -> None:
    events = list(
        client.responses.create(model="claude-4-sonnet", input="Hi [sim:tokens=6]", stream=True)
    )
    types = [event.type for event in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert {event.response.id for event in events if hasattr(event, "response")} == {
        events[0].response.id  # type: ignore[union-attr]
    }
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")  # type: ignore[union-attr]
    final = events[-1].response  # type: ignore[union-attr]
    assert final.output_text == text and final.usage.output_tokens == 6


@pytest.mark.compat("openai (Python)", "responses.stream")
def test_stream_helper_gets_the_final_response(client: OpenAI) -> None:
    with client.responses.stream(model="gpt-4o", input="Hi [sim:tokens=5]") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == "".join(deltas) and final.status == "completed"
    assert client.responses.retrieve(final.id).output_text == final.output_text


@pytest.mark.compat("openai (Python)", "previous_response_id, input_items.list")
def test_previous_response_id_continues_the_conversation(client: OpenAI) -> None:
    first = client.responses.create(model="gpt-4o", input="My name is Ada. [sim:tokens=9]")
    second = client.responses.create(
        model="gpt-4o", input="What is my name? [sim:tokens=3]", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    assert first.usage and second.usage
    # the second call carried the first exchange: its input outgrew the first's whole turn
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens
    items = client.responses.input_items.list(second.id, order="asc")
    [item] = items.data
    assert item.type == "message" and item.content[0].text == "What is my name? [sim:tokens=3]"  # type: ignore[union-attr]


@pytest.mark.compat("openai (Python)", "responses function tools")
def test_a_function_tool_round_trip(client: OpenAI) -> None:
    asked = client.responses.create(
        model="auto", input="What is the weather in Paris?", tools=[WEATHER_TOOL]
    )
    [call] = [item for item in asked.output if item.type == "function_call"]
    assert call.name == "get_weather" and "city" in json.loads(call.arguments)
    answered = client.responses.create(
        model="auto",
        previous_response_id=asked.id,
        tools=[WEATHER_TOOL],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "18C, sunny"}],
    )
    assert answered.status == "completed" and answered.output_text
    assert not [item for item in answered.output if item.type == "function_call"]


@pytest.mark.compat("openai (Python)", "responses function tools")
def test_a_streamed_function_call_streams_its_arguments(client: OpenAI) -> None:
    events = list(
        client.responses.create(
            model="gpt-4o", input="Weather in Oslo?", tools=[WEATHER_TOOL], stream=True
        )
    )
    types = [event.type for event in events]
    assert "response.function_call_arguments.delta" in types
    assert "response.function_call_arguments.done" in types
    [call] = [i for i in events[-1].response.output if i.type == "function_call"]  # type: ignore[union-attr]
    assert json.loads(call.arguments)["city"]


class Verdict(BaseModel):
    label: str
    confidence: float


@pytest.mark.compat("openai (Python)", "responses.parse")
def test_parse_returns_a_schema_valid_object(client: OpenAI) -> None:
    response = client.responses.parse(
        model="gpt-4o", input="Is this review positive? 'Loved it.'", text_format=Verdict
    )
    assert isinstance(response.output_parsed, Verdict)


@pytest.mark.compat("openai (Python)", "responses.retrieve, responses.delete")
def test_a_stored_response_can_be_deleted(client: OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="Keep this [sim:tokens=3]")
    assert client.responses.retrieve(created.id).output_text == created.output_text
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_store_false_keeps_nothing(client: OpenAI) -> None:
    response = client.responses.create(model="gpt-4o", input="Forget this", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "tools"),
        ({"background": True}, "background"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"previous_response_id": "resp_unknown"}, "previous_response_id"),
    ],
)
def test_what_a_bridged_call_cannot_do_is_a_clear_error(
    client: OpenAI, extra: dict, param: str
) -> None:
    body = {"model": "claude-4-sonnet", "input": "hi", **extra}
    with pytest.raises((openai.BadRequestError, openai.NotFoundError)) as raised:
        client.post("/responses", body=body, cast_to=dict)
    error = raised.value.body
    assert isinstance(error, dict) and error["param"] == param, error


@pytest.mark.compat(
    "openai (Python)", "responses hosted web_search (OpenAI models, passed through)"
)
def test_a_request_to_an_openai_model_goes_up_as_sent_hosted_tools_too(client: OpenAI, sim) -> None:
    """gpt-4o's provider speaks the Responses API: the request reaches it as sent (the chain
    spelled out as input, nothing stored there), and its own answer comes back."""
    first = client.responses.create(model="gpt-4o", input="Remember: blue [sim:tokens=4]")
    response = client.responses.create(
        model="gpt-4o",
        input="Who won yesterday? [sim:tokens=6]",
        tools=[{"type": "web_search"}],
        previous_response_id=first.id,
        include=["web_search_call.action.sources"],
    )
    sent = sim.received["v1/responses"]
    assert sent["tools"] == [{"type": "web_search"}]
    assert sent["include"] == ["web_search_call.action.sources"]
    assert sent["store"] is False and "previous_response_id" not in sent
    assert [item.get("role") for item in sent["input"]] == ["user", "assistant", "user"]
    search, message = response.output
    assert search.type == "web_search_call"
    assert message.content[0].annotations[0].type == "url_citation"  # type: ignore[union-attr]
    assert response.previous_response_id == first.id and response.store is True
    assert client.responses.retrieve(response.id).output[0].type == "web_search_call"


@pytest.mark.compat(
    "openai (Python)", "responses hosted web_search (OpenAI models, passed through)"
)
def test_a_streamed_pass_through_keeps_the_upstream_s_events_under_the_gateway_s_id(
    client: OpenAI,
) -> None:
    events = list(
        client.responses.create(
            model="gpt-4o",
            input="News? [sim:tokens=5]",
            tools=[{"type": "web_search"}],
            stream=True,
        )
    )
    types = [event.type for event in events]
    assert "response.web_search_call.searching" in types
    final = events[-1].response  # type: ignore[union-attr]
    assert types[-1] == "response.completed" and final.usage.output_tokens == 5
    assert {e.response.id for e in events if hasattr(e, "response")} == {final.id}
    assert client.responses.retrieve(final.id).output_text == final.output_text


@pytest.mark.compat("openai (Python)", "responses with Idempotency-Key")
@pytest.mark.parametrize("stream", [False, True])
def test_an_idempotency_key_replays_the_response(client: OpenAI, stream: bool) -> None:
    headers = {"Idempotency-Key": f"resp-{stream}-{id(client)}"}
    body = {"model": "claude-4-sonnet", "input": "Once [sim:tokens=4]", "stream": stream}
    keyed = client.with_options(default_headers=headers)
    first = keyed.responses.with_raw_response.create(**body)
    first_text = first.http_response.read().decode()  # whole before the repeat: in flight,
    again = keyed.responses.with_raw_response.create(**body)  # a repeat would be a 409
    again_text = again.http_response.read().decode()
    assert first.headers["x-modelyard-idempotent-replay"] == "false"
    assert again.headers["x-modelyard-idempotent-replay"] == "true"
    assert again.headers["x-modelyard-request-id"] == first.headers["x-modelyard-request-id"]
    if stream:
        assert again_text == first_text  # the same events, byte for byte
    else:
        assert json.loads(again_text) == json.loads(first_text)
