"""The Gemini adapter against request/response pairs written from Google's Gemini API docs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.catalog import Capabilities, Model, Provider
from modelyard.providers import gemini, openai_compat
from modelyard.providers.base import StreamState
from modelyard.providers.errors import UpstreamError

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "gemini.json").read_text())
MODEL = Model(
    "gemini-2.5-flash", "gemini", "gemini-2.5-flash", "chat", 1048576, 65536,
    Capabilities(True, True, True), 550, 180,
)  # fmt: skip
PROVIDER = Provider("gemini", "Gemini", "gemini", "https://gemini.test", "GEMINI_TEST_KEY")


def without_volatile(body: dict[str, Any]) -> dict[str, Any]:
    """The body without what differs per call (creation time, generated tool-call ids)."""
    body = json.loads(json.dumps(body))
    body.pop("created", None)
    for choice in body.get("choices") or ():
        for call in choice["message"].get("tool_calls") or ():
            assert call.pop("id").startswith("call_")
    return body


@pytest.mark.parametrize("case", FIXTURES["requests"], ids=lambda c: c["name"])
def test_openai_request_becomes_the_documented_gemini_request(case):
    assert gemini.to_gemini(case["openai"], MODEL) == case["gemini"]


@pytest.mark.parametrize("case", FIXTURES["responses"], ids=lambda c: c["name"])
def test_documented_gemini_response_becomes_an_openai_completion(case):
    result = gemini.to_openai(case["gemini"], MODEL)
    assert without_volatile(result.body) == case["openai"]


@pytest.mark.parametrize("body", FIXTURES["blocked"], ids=["prompt", "answer", "recitation"])
def test_safety_blocks_map_to_content_filtered(body):
    with pytest.raises(UpstreamError) as caught:
        gemini.to_openai(body, MODEL)
    assert caught.value.kind == "content_filtered"


@pytest.mark.parametrize("case", FIXTURES["errors"], ids=lambda c: f"{c['status']}-{c['kind']}")
def test_documented_error_bodies_map_into_the_taxonomy(case):
    error = gemini.gemini_error(case["status"], json.dumps(case["body"]).encode(), httpx.Headers())
    assert error.kind == case["kind"]
    assert error.retry_after == case.get("retry_after")


def test_adapter_streams_over_sse_with_the_api_key_header(monkeypatch):
    """The whole adapter over a mock transport: URL, key header, SSE parsing, usage chunk."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            content=FIXTURES["stream"]["sse"].encode(),
            headers={"content-type": "text/event-stream"},
        )

    monkeypatch.setenv("GEMINI_TEST_KEY", "g-key")
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    monkeypatch.setattr(openai_compat, "http_client", lambda: client)  # builds and sends it
    state = StreamState()

    async def run() -> list[dict[str, Any]]:
        body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Weather?"}]}
        stream = gemini.GeminiAdapter().stream(PROVIDER, MODEL, body, state)
        return [json.loads(chunk) async for chunk in stream]

    chunks = asyncio.run(run())
    [request] = seen
    assert str(request.url) == (
        "https://gemini.test/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert request.headers["x-goog-api-key"] == "g-key"
    deltas = [[c["choices"][0]["delta"], c["choices"][0]["finish_reason"]] for c in chunks]
    assert deltas == FIXTURES["stream"]["deltas"]
    assert {c["id"] for c in chunks} == {"chatcmpl-r1"}
    usage = state.usage_chunk["usage"]  # type: ignore[index]
    assert {k: usage[k] for k in FIXTURES["stream"]["usage"]} == FIXTURES["stream"]["usage"]
    assert state.finish_reason == "stop"
