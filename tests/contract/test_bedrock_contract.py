"""The Bedrock adapter against request/response pairs written from the Bedrock API Reference,
checked with botocore's own validator and event-stream parser."""

from __future__ import annotations

import asyncio
import base64
import functools
import ipaddress
import json
from pathlib import Path
from typing import Any

import botocore.session
import httpx
import pytest
from botocore.eventstream import EventStream
from botocore.exceptions import ClientError, EventStreamError
from botocore.parsers import EventStreamJSONParser
from botocore.validate import ParamValidator

from modelyard.catalog import Capabilities, Model
from modelyard.local.simulator import event_stream_message
from modelyard.providers import bedrock
from modelyard.providers.base import ChunkWriter, StreamState
from modelyard.providers.errors import UpstreamError
from modelyard.providers.fetch import fetch

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "bedrock.json").read_text())
MODEL = Model(
    "bedrock-claude-sonnet-4", "bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0", "chat",
    200000, 64000, Capabilities(True, True, True), 900, 55,
)  # fmt: skip
SERVICE = botocore.session.get_session().get_service_model("bedrock-runtime")


def bytes_as_base64(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: bytes_as_base64(v) for k, v in value.items()}
    if isinstance(value, list):
        return [bytes_as_base64(v) for v in value]
    return value


def test_openai_request_becomes_the_documented_converse_request():
    kwargs = bedrock.to_converse(FIXTURES["request"]["openai"], MODEL)
    assert bytes_as_base64(kwargs) == FIXTURES["request"]["converse"]


def test_converse_request_is_valid_for_botocore():
    kwargs = bedrock.to_converse(FIXTURES["request"]["openai"], MODEL)
    for operation in ("Converse", "ConverseStream"):
        shape = SERVICE.operation_model(operation).input_shape
        report = ParamValidator().validate(kwargs, shape)
        assert not report.has_errors(), report.generate_report()


def test_tool_choice_none_leaves_the_tools_out():
    body = {**FIXTURES["request"]["openai"], "tool_choice": "none"}
    body["messages"] = body["messages"][:2]
    assert "toolConfig" not in bedrock.to_converse(body, MODEL)


@pytest.mark.parametrize("case", FIXTURES["responses"], ids=lambda c: c["name"])
def test_documented_converse_response_becomes_an_openai_completion(case):
    body = bedrock.to_openai(case["converse"], MODEL).body
    body.pop("created")
    assert body == case["openai"]


def test_content_filtered_stop_maps_to_content_filtered():
    with pytest.raises(UpstreamError) as caught:
        bedrock.to_openai(FIXTURES["filtered"], MODEL)
    assert caught.value.kind == "content_filtered"


def test_documented_stream_events_become_openai_chunks():
    state = StreamState()
    translator = bedrock._StreamTranslator(state, ChunkWriter("chatcmpl-s", MODEL.upstream))
    chunks = [c for event in FIXTURES["stream"]["events"] for c in translator.feed(event)]
    deltas = [[c["choices"][0]["delta"], c["choices"][0]["finish_reason"]] for c in chunks]
    assert deltas == FIXTURES["stream"]["deltas"]
    usage = state.usage_chunk["usage"]  # type: ignore[index]
    assert {k: usage[k] for k in FIXTURES["stream"]["usage"]} == FIXTURES["stream"]["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 8


@pytest.mark.parametrize("case", FIXTURES["errors"], ids=lambda c: f"{c['code']}-{c['kind']}")
def test_documented_error_codes_map_into_the_taxonomy(case):
    response = {
        "Error": {"Code": case["code"], "Message": case["message"]},
        "ResponseMetadata": {"HTTPStatusCode": case["status"], "HTTPHeaders": {}},
    }
    error_class = EventStreamError if case["code"][0].islower() else ClientError
    error = bedrock.bedrock_error(error_class(response, "ConverseStream"))  # type: ignore[arg-type]
    assert error.kind == case["kind"]


class _RawStream:
    """What botocore's EventStream reads: an object with `stream()` and `close()`."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self) -> Any:
        for i in range(0, len(self.data), 7):  # awkward chunk sizes, as a socket gives them
            yield self.data[i : i + 7]

    def close(self) -> None:
        pass


def test_simulator_event_stream_encoding_is_parsed_by_botocore():
    wire = b"".join(
        event_stream_message(
            {":event-type": next(iter(event)), ":content-type": "application/json",
             ":message-type": "event"},
            json.dumps(next(iter(event.values()))).encode(),
        )
        for event in FIXTURES["stream"]["events"]
    )  # fmt: skip
    shape = SERVICE.operation_model("ConverseStream").output_shape.members["stream"]
    parsed = list(EventStream(_RawStream(wire), shape, EventStreamJSONParser(), "ConverseStream"))
    assert parsed == FIXTURES["stream"]["events"]


def test_linked_images_are_fetched_into_image_bytes(monkeypatch):
    """Fetched from the address that was checked, under the link's own name (Host, SNI)."""
    png = b"\x89PNG\r\n\x1a\n"
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=png, headers={"content-type": "image/png"})

    async def resolve(_host: str) -> list[ipaddress.IPv4Address]:
        return [ipaddress.IPv4Address("93.184.215.14")]

    patched = functools.partial(fetch, resolve=resolve, transport=httpx.MockTransport(answer))
    monkeypatch.setattr(bedrock, "fetch", patched)
    link = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "cat?"}, link]}]}
    kwargs = bedrock.to_converse(asyncio.run(bedrock.inline_images(body)), MODEL)
    image = kwargs["messages"][0]["content"][1]["image"]
    assert image == {"format": "png", "source": {"bytes": png}}
    [request] = seen
    assert str(request.url) == "https://93.184.215.14/cat.png"
    assert request.headers["host"] == "example.com"
    assert request.extensions["sni_hostname"] == "example.com"
