"""The OpenAI-compatible adapter against the documented request shapes of its providers.

OpenAI (and DeepSeek, Qwen, Kimi, Groq, ... by base URL): `POST {base}/chat/completions`,
`Authorization: Bearer`. Azure OpenAI: `POST {endpoint}/openai/deployments/{deployment}/
chat/completions?api-version=...` with the key in `api-key`. DeepSeek reports cache hits as
`prompt_cache_hit_tokens`; OpenAI as `prompt_tokens_details.cached_tokens`.
"""

from __future__ import annotations

import asyncio
import json

import httpx

from modelyard.catalog import Capabilities, Model, Provider
from modelyard.providers.base import StreamState
from modelyard.providers.openai_compat import OpenAICompatAdapter, usage_from_openai

MODEL = Model("gpt-4o", "p", "gpt-4o-prod", "chat", 128000, 16384, Capabilities(), 500, 50)
BODY = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "hi"}],
    "modelyard": {"policy": "cost"},
    "stream": False,
}


def build(provider: Provider, stream: bool) -> httpx.Request:
    async def run() -> httpx.Request:
        return OpenAICompatAdapter()._request(provider, MODEL, BODY, stream)

    return asyncio.run(run())


def test_openai_compatible_request(monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test")
    provider = Provider(
        "openai", "OpenAI", "openai", "https://api.openai.com/v1/", "TEST_OPENAI_KEY"
    )
    request = build(provider, stream=True)
    assert str(request.url) == "https://api.openai.com/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    sent = json.loads(request.content)
    assert sent["model"] == "gpt-4o-prod" and "modelyard" not in sent
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_azure_openai_names_the_deployment_and_takes_an_api_key_header(monkeypatch):
    monkeypatch.setenv("TEST_AZURE_KEY", "azure-secret")
    provider = Provider(
        "azure",
        "Azure OpenAI",
        "openai",
        "https://acme.openai.azure.com",
        "TEST_AZURE_KEY",
        api_version="2024-10-21",
    )
    request = build(provider, stream=False)
    assert str(request.url) == (
        "https://acme.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions"
        "?api-version=2024-10-21"
    )
    assert request.headers["api-key"] == "azure-secret"
    assert "authorization" not in request.headers
    assert "stream" not in json.loads(request.content)


def test_usage_is_normalised_across_openai_and_deepseek():
    openai = usage_from_openai(
        {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 1024},
            "completion_tokens_details": {"reasoning_tokens": 120},
        }
    )
    assert (openai.input_tokens, openai.cached_tokens, openai.reasoning_tokens) == (1200, 1024, 120)
    deepseek = usage_from_openai(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 10,
            "total_tokens": 1010,
            "prompt_cache_hit_tokens": 768,
            "prompt_cache_miss_tokens": 232,
        }
    )
    assert (deepseek.input_tokens, deepseek.cached_tokens) == (1000, 768)


# A documented stream (https://platform.openai.com/docs/api-reference/chat-streaming): `data:`
# lines of chat.completion.chunk JSON, blank separators, the usage-only chunk that
# stream_options.include_usage asks for, then `data: [DONE]`. Providers add comments
# (`: keep-alive`) and may end lines with CRLF.
STREAM_EVENTS = [
    b'{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-prod",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}',
    b'{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-prod",'
    b'"choices":[{"index":0,"delta":{"content":"Caf\xc3\xa9 \\u00e9t\xc3\xa9"},'
    b'"finish_reason":null}]}',
    b'{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-prod",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
]
USAGE_EVENT = (
    b'{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-prod",'
    b'"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}'
)


def _stream(parts: list[bytes], monkeypatch) -> tuple[list[bytes], StreamState]:
    from modelyard.providers import openai_compat

    async def body():
        for part in parts:
            yield part

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    monkeypatch.setattr(openai_compat, "http_client", lambda: client)
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test")
    provider = Provider(
        "openai", "OpenAI", "openai", "https://api.openai.com/v1", "TEST_OPENAI_KEY"
    )
    state = StreamState()

    async def run() -> list[bytes]:
        stream = OpenAICompatAdapter().stream(provider, MODEL, {**BODY, "stream": True}, state)
        return [chunk async for chunk in stream]

    return asyncio.run(run()), state


def test_stream_chunks_pass_through_as_the_upstream_bytes(monkeypatch):
    wire = (
        b": keep-alive\r\n\r\n"
        + b"".join(b"data: " + event + b"\r\n\r\n" for event in [*STREAM_EVENTS, USAGE_EVENT])
        + b"data: [DONE]\r\n\r\n"
    )
    # cut the wire at awkward places: inside a line, between CR and LF, inside a UTF-8 character
    cuts = [3, 20, wire.index(b"\xc3") + 1, wire.index(b"\r\n") + 1, len(wire) - 5]
    parts = [wire[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(wire)], strict=True)]
    chunks, state = _stream(parts, monkeypatch)
    assert chunks == STREAM_EVENTS  # byte for byte: nothing decoded and encoded again
    assert state.usage is not None and state.usage.output_tokens == 3
    assert state.usage_chunk is not None and state.usage_chunk["choices"] == []


def test_an_oversized_stream_line_is_a_malformed_response(monkeypatch):
    from modelyard.providers import openai_compat
    from modelyard.providers.errors import ErrorKind, UpstreamError

    monkeypatch.setattr(openai_compat, "MAX_SSE_LINE_BYTES", 1000)
    try:
        _stream([b"data: " + b"x" * 600, b"y" * 600], monkeypatch)
    except UpstreamError as exc:
        assert exc.kind is ErrorKind.MALFORMED_RESPONSE
    else:
        raise AssertionError("an unbounded line was accepted")
