"""Every upstream wire format behind one API: the official openai SDK against models served
over OpenAI's, Anthropic's, Gemini's and Bedrock's formats (simulated upstreams, real HTTP and,
for Bedrock, real botocore), with the same answers and the same failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from modelyard.local.stack import LocalStack
from modelyard.providers.base import StreamState
from modelyard.providers.errors import UpstreamError
from modelyard.providers.registry import adapter_for

#: one model per wire format
BY_FORMAT = {
    "openai": "gpt-4o",
    "anthropic": "claude-4-sonnet",
    "gemini": "gemini-2.5-flash",
    "bedrock": "bedrock-claude-sonnet-4",
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
QUESTION = [{"role": "user", "content": "What is the weather in Paris? [sim:tokens=6]"}]


@pytest.fixture
def client(stack: LocalStack) -> OpenAI:
    return OpenAI(base_url=stack.base_url, api_key=stack.api_key, max_retries=0)  # type: ignore[attr-defined]


@pytest.fixture
def no_retry_wait(sim: Any) -> Iterator[None]:
    saved, sim.retry_after = sim.retry_after, "0"
    yield
    sim.retry_after = saved


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and types, not contents (a null is an absence)."""
    if isinstance(value, dict):
        return {
            k: shape(v) for k, v in value.items() if v is not None and k != "system_fingerprint"
        }
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


@pytest.mark.parametrize(
    "model", ["claude-4-sonnet", "gemini-2.5-flash", "bedrock-claude-sonnet-4"]
)
def test_openai_sdk_chats_streams_and_calls_tools_over_every_translated_format(
    client: OpenAI, model: str
):
    raw = client.chat.completions.with_raw_response.create(model=model, messages=QUESTION)
    completion = raw.parse()
    assert completion.choices[0].message.content.startswith(f"(simulated {model})")  # type: ignore[union-attr]
    assert completion.usage is not None and completion.usage.completion_tokens == 6
    assert raw.headers["x-modelyard-model"] == model and raw.headers["x-modelyard-cost-usd"]

    chunks = list(
        client.chat.completions.create(
            model=model, messages=QUESTION, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == completion.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6

    first = client.chat.completions.create(model=model, messages=QUESTION, tools=TOOLS)  # type: ignore[arg-type]
    [call] = first.choices[0].message.tool_calls or []
    assert first.choices[0].finish_reason == "tool_calls"
    assert json.loads(call.function.arguments) == {"city": "simulated"}  # type: ignore[union-attr]
    second = client.chat.completions.create(
        model=model,
        tools=TOOLS,  # type: ignore[arg-type]
        messages=[
            *QUESTION,
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"},
        ],
    )
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.content

    streamed = list(
        client.chat.completions.create(model=model, messages=QUESTION, tools=TOOLS, stream=True)
    )  # type: ignore[arg-type]
    arguments = "".join(
        tc.function.arguments or ""  # type: ignore[union-attr]
        for c in streamed
        if c.choices
        for tc in c.choices[0].delta.tool_calls or []
    )
    assert json.loads(arguments) == {"city": "simulated"}


def test_the_same_request_gets_the_same_openai_shape_from_every_format(client: OpenAI):
    def answer(model: str, stream: bool) -> Any:
        if stream:
            chunks = client.chat.completions.create(
                model=model,
                messages=QUESTION,
                stream=True,
                stream_options={"include_usage": True},
            )
            return [shape(c.model_dump(exclude_unset=True, exclude={"modelyard"})) for c in chunks]
        body = client.chat.completions.create(model=model, messages=QUESTION, tools=TOOLS)  # type: ignore[arg-type]
        return shape(body.model_dump(exclude_unset=True, exclude={"modelyard"}))

    for stream in (False, True):
        shapes = {wire: answer(model, stream) for wire, model in BY_FORMAT.items()}
        assert all(s == shapes["openai"] for s in shapes.values()), shapes


def upstream_error(stack: LocalStack, wire: str, stream: bool) -> UpstreamError:
    """The error one adapter raises, on its own (no retries), calling its simulated upstream;
    a stream is read to its end."""
    catalog = stack.config.catalog()
    model = catalog.models[BY_FORMAT[wire]]
    provider = catalog.provider_of(model)
    adapter = adapter_for(provider.wire)
    body = {"model": model.id, "messages": QUESTION}

    async def attempt() -> None:
        if stream:
            async for _chunk in adapter.stream(provider, model, body, StreamState()):
                pass
        else:
            await adapter.chat(provider, model, body)

    with pytest.raises(UpstreamError) as caught:
        asyncio.run(attempt())
    return caught.value


@pytest.mark.parametrize("status", [429, 503, 500])
@pytest.mark.parametrize("wire", list(BY_FORMAT))
def test_the_same_upstream_failure_maps_to_the_same_taxonomy_entry(
    stack: LocalStack, sim: Any, no_retry_wait: None, wire: str, status: int
):
    expected = {429: "rate_limited", 503: "overloaded", 500: "server_error"}[status]
    sim.configure_now(faults=f"{BY_FORMAT[wire]}={status}:1.0")
    for stream in (False, True):
        error = upstream_error(stack, wire, stream)
        assert (error.kind, error.status) == (expected, status)
        if status == 429 and wire != "bedrock":  # Bedrock sends no retry hint
            assert error.retry_after == 0


@pytest.mark.parametrize(
    ("fault", "kind"),
    [("reset", "connection_error"), ("malformed", "malformed_response"),
     ("midstream", "connection_error")],
)  # fmt: skip
@pytest.mark.parametrize("wire", ["gemini", "bedrock"])
def test_injected_stream_faults_reach_the_taxonomy_for_gemini_and_bedrock(
    stack: LocalStack, sim: Any, wire: str, fault: str, kind: str
):
    sim.configure_now(faults=f"{BY_FORMAT[wire]}={fault}:1.0")
    assert upstream_error(stack, wire, stream=True).kind == kind


def test_a_failing_gemini_falls_back_to_bedrock_and_is_billed_there(
    client: OpenAI, stack: LocalStack, sim: Any, no_retry_wait: None
):
    sim.configure_now(faults="gemini-2.5-flash=503:1.0")
    completion = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=QUESTION,
        extra_body={"modelyard": {"fallbacks": ["bedrock-claude-sonnet-4"]}},
    )
    meta = (completion.model_extra or {})["modelyard"]
    assert meta["model"] == "bedrock-claude-sonnet-4"
    assert [a["error_type"] for a in meta["attempts"]][-2:] == ["overloaded", None]
