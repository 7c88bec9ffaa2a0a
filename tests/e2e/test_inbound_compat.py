"""Inbound compatibility: the official anthropic SDK on `/v1/messages` and the openai SDK's
embeddings, through the same routing, fallback and accounting as chat completions."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import openai
import pytest
from openai import OpenAI

from modelyard.local.stack import LocalStack
from tests.helpers import ledger_items

TOOLS: list[Any] = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]


@pytest.fixture
def claude(stack: LocalStack) -> anthropic.Anthropic:
    root = stack.base_url.removesuffix("/v1")  # type: ignore[attr-defined]
    return anthropic.Anthropic(base_url=root, api_key=stack.api_key, max_retries=0)


@pytest.mark.compat("anthropic (Python)", "messages.create")
@pytest.mark.parametrize("model", ["claude-4-sonnet", "gemini-2.5-flash", "deepseek-v4-flash"])
def test_anthropic_sdk_creates_a_message_served_by_any_format(
    claude: anthropic.Anthropic, stack: LocalStack, model: str
):
    raw = claude.messages.with_raw_response.create(
        model=model,
        max_tokens=200,
        system="You are terse.",
        messages=[{"role": "user", "content": "Say hello [sim:tokens=7]"}],
    )
    message = raw.parse()
    assert message.type == "message" and message.stop_reason == "end_turn"
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith(f"(simulated {model})")
    assert message.usage.output_tokens == 7 and message.usage.input_tokens > 0
    assert raw.headers["x-modelyard-model"] == model
    stack.poller.drain()
    [entry] = ledger_items(raw.headers["x-modelyard-request-id"])
    assert entry["model"] == model and entry["output_tokens"] == 7
    assert entry["cost_usd"] == Decimal(raw.headers["x-modelyard-cost-usd"])


@pytest.mark.compat("anthropic (Python)", "messages.stream")
def test_anthropic_sdk_streams_text_and_reports_usage(claude: anthropic.Anthropic):
    with claude.messages.stream(
        model="bedrock-claude-sonnet-4",
        max_tokens=200,
        messages=[{"role": "user", "content": "Say hello [sim:tokens=9]"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.startswith("(simulated bedrock-claude-sonnet-4)")
    assert final.content[0].text == text  # type: ignore[union-attr]
    assert final.usage.output_tokens == 9 and final.usage.input_tokens > 0
    assert final.stop_reason == "end_turn"


@pytest.mark.compat("anthropic (Python)", "tool use")
def test_anthropic_sdk_tool_use_round_trip_streamed_and_not(claude: anthropic.Anthropic):
    question: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = claude.messages.create(
        model="gemini-2.5-flash", max_tokens=200, tools=TOOLS, messages=question
    )
    assert first.stop_reason == "tool_use"
    [use] = [b for b in first.content if b.type == "tool_use"]
    assert use.input == {"city": "simulated"}  # type: ignore[union-attr]
    second = claude.messages.create(
        model="gemini-2.5-flash",
        max_tokens=200,
        tools=TOOLS,
        messages=[
            *question,
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": use.id, "content": "18C"}  # type: ignore[union-attr]
            ]},
        ],
    )  # fmt: skip
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"
    with claude.messages.stream(
        model="claude-4-sonnet", max_tokens=200, tools=TOOLS, messages=question
    ) as stream:
        final = stream.get_final_message()
    [streamed] = [b for b in final.content if b.type == "tool_use"]
    assert streamed.input == {"city": "simulated"} and final.stop_reason == "tool_use"  # type: ignore[union-attr]


@pytest.mark.compat("anthropic (Python)", "error classes")
def test_anthropic_sdk_sees_errors_in_anthropic_shape(
    claude: anthropic.Anthropic, stack: LocalStack
):
    root = stack.base_url.removesuffix("/v1")  # type: ignore[attr-defined]
    wrong = anthropic.Anthropic(base_url=root, api_key="sk-wrong", max_retries=0)
    hello: list[Any] = [{"role": "user", "content": "hi"}]
    with pytest.raises(anthropic.AuthenticationError) as auth:
        wrong.messages.create(model="claude-4-sonnet", max_tokens=10, messages=hello)
    assert auth.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="claude-9", max_tokens=10, messages=hello)
    response = httpx.post(
        f"{root}/v1/messages",
        headers={"x-api-key": stack.api_key, "anthropic-version": "2023-06-01"},
        json={"model": "claude-4-sonnet", "messages": hello},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


@pytest.mark.compat("anthropic (Python)", "messages.count_tokens")
def test_anthropic_sdk_counts_tokens_of_system_messages_and_tools(claude: anthropic.Anthropic):
    hello: list[Any] = [{"role": "user", "content": "Say hello to the whole wide world"}]
    raw = claude.messages.with_raw_response.count_tokens(model="claude-4-sonnet", messages=hello)
    bare = raw.parse().input_tokens
    assert bare > 0 and raw.headers["x-modelyard-token-count"] == "estimate"
    system = "You are terse. " * 40
    with_system = claude.messages.count_tokens(
        model="claude-4-sonnet", system=system, messages=hello
    ).input_tokens
    assert with_system >= bare + len(system) // 4
    with_tools = claude.messages.count_tokens(
        model="claude-4-sonnet", system=system, messages=hello, tools=TOOLS
    ).input_tokens
    assert with_tools > with_system


def test_count_tokens_is_authenticated_and_validated_in_anthropics_shape(
    claude: anthropic.Anthropic, stack: LocalStack
):
    root = stack.base_url.removesuffix("/v1")  # type: ignore[attr-defined]
    wrong = anthropic.Anthropic(base_url=root, api_key="sk-wrong", max_retries=0)
    hello: list[Any] = [{"role": "user", "content": "hi"}]
    with pytest.raises(anthropic.AuthenticationError):
        wrong.messages.count_tokens(model="claude-4-sonnet", messages=hello)
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.count_tokens(model="claude-9", messages=hello)
    with pytest.raises(anthropic.BadRequestError) as invalid:
        claude.messages.count_tokens(model="claude-4-sonnet", messages=[])
    assert invalid.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


@pytest.mark.compat("openai (Python)", "embeddings.create")
def test_embeddings_are_routed_priced_and_accounted(stack: LocalStack):
    client = OpenAI(base_url=stack.base_url, api_key=stack.api_key, max_retries=0)  # type: ignore[attr-defined]
    raw = client.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=["the same text", "another text", "the same text"]
    )
    result = raw.parse()
    vectors = [d.embedding for d in result.data]
    assert len(vectors) == 3 and len(vectors[0]) == 1536
    assert vectors[0] == vectors[2] != vectors[1]  # deterministic per text
    tokens = result.usage.prompt_tokens
    expected = Decimal(tokens) * Decimal("0.02") / 10**6
    assert Decimal(raw.headers["x-modelyard-cost-usd"]) == expected
    assert raw.headers["x-modelyard-model"] == "text-embedding-3-small"
    small = client.embeddings.create(
        model="auto", input="short", dimensions=64, encoding_format="float"
    )
    assert len(small.data[0].embedding) == 64
    stack.poller.drain()
    [entry] = ledger_items(raw.headers["x-modelyard-request-id"])
    assert entry["input_tokens"] == tokens and entry["cost_usd"] == expected


def test_embeddings_refuse_a_chat_model_and_chat_refuses_an_embedding_model(stack: LocalStack):
    headers = {"authorization": f"Bearer {stack.api_key}"}
    base = stack.base_url  # type: ignore[attr-defined]
    embed = httpx.post(
        f"{base}/embeddings", headers=headers, json={"model": "gpt-4o", "input": "x"}
    )
    assert embed.status_code == 400 and embed.json()["error"]["param"] == "model"
    chat = httpx.post(
        f"{base}/chat/completions",
        headers=headers,
        json={"model": "text-embedding-3-small", "messages": [{"role": "user", "content": "x"}]},
    )
    assert chat.status_code == 400
    assert "embedding model" in json.dumps(chat.json())


def test_messages_thinking_top_k_and_server_tools_are_honoured_or_refused_by_name(
    stack: LocalStack,
):
    root = stack.base_url.removesuffix("/v1")  # type: ignore[attr-defined]
    headers = {"x-api-key": stack.api_key, "anthropic-version": "2023-06-01"}
    hello: list[Any] = [{"role": "user", "content": "Say hello [sim:tokens=3]"}]
    thinking = {"type": "enabled", "budget_tokens": 2048}
    body = {"max_tokens": 4096, "messages": hello, "thinking": thinking, "top_k": 20}
    for model in ("claude-4-sonnet", "gemini-2.5-flash"):
        served = httpx.post(f"{root}/v1/messages", headers=headers, json={**body, "model": model})
        assert served.status_code == 200, served.text
        assert served.headers["x-modelyard-model"] == model
    refused = httpx.post(
        f"{root}/v1/messages", headers=headers, json={**body, "model": "deepseek-v4-flash"}
    )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error"
    # the thinking budget, as the reasoning effort a chat body carries: deepseek takes neither
    assert "model deepseek-v4-flash cannot honour reasoning_effort" in error["message"]
    no_thinking = {k: v for k, v in body.items() if k != "thinking"}
    refused = httpx.post(
        f"{root}/v1/messages", headers=headers, json={**no_thinking, "model": "deepseek-v4-flash"}
    )
    assert "model deepseek-v4-flash cannot honour top_k" in refused.json()["error"]["message"]
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}
    with_search = {"max_tokens": 64, "messages": hello, "tools": [search], "model": "auto"}
    routed = httpx.post(f"{root}/v1/messages", headers=headers, json=with_search)
    assert routed.status_code == 200, routed.text
    assert routed.headers["x-modelyard-model"] == "claude-4-sonnet"
    pinned = httpx.post(
        f"{root}/v1/messages", headers=headers, json={**with_search, "model": "gpt-4o"}
    )
    assert pinned.status_code == 400
    assert "server tools (web_search_20250305)" in pinned.json()["error"]["message"]


def test_chat_parameters_a_pinned_model_cannot_honour_are_a_400_naming_them(stack: LocalStack):
    client = OpenAI(base_url=stack.base_url, api_key=stack.api_key, max_retries=0)  # type: ignore[attr-defined]
    hello: list[Any] = [{"role": "user", "content": "hi [sim:tokens=2]"}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="claude-4-sonnet", messages=hello, n=2)
    assert caught.value.param == "n" and caught.value.code == "unsupported_parameter"
    assert "claude-4-sonnet" in caught.value.message
    raw = client.chat.completions.with_raw_response.create(
        model="auto:quality", messages=hello, n=2
    )
    assert raw.headers["x-modelyard-provider"] not in {"anthropic", "bedrock"}
    served = client.chat.completions.create(
        model="claude-4-sonnet", messages=hello, reasoning_effort="low"
    )
    assert served.choices[0].message.content


@pytest.mark.compat("anthropic (Python)", "messages.create to Claude, passed through as sent")
def test_a_messages_request_to_claude_goes_up_as_sent(claude: anthropic.Anthropic, sim):
    """Anthropic's own fields reach it untranslated, and its own answer comes back."""
    message = claude.messages.create(
        model="claude-4-sonnet",
        max_tokens=64,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Hello [sim:tokens=5]"}],
        metadata={"user_id": "u-1"},
        extra_body={"top_k": 5, "service_tier": "standard_only"},
    )
    sent = sim.received["v1/messages"]
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent["top_k"] == 5 and sent["service_tier"] == "standard_only"
    assert sent["metadata"] == {"user_id": "u-1"} and "modelyard" not in sent
    assert message.id.startswith("msg_sim") and message.usage.output_tokens == 5
