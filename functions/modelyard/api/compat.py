"""Inbound compatibility: Anthropic's Messages API and OpenAI's embeddings, as routes over the
same `Gateway` the chat completions use.

`POST /v1/messages` turns the Messages request into an OpenAI chat body, runs it through
`Gateway.chat` (so routing, fallback, pricing and accounting are the chat path's own) and turns
the answer, or the stream, back into Anthropic's shapes; its errors are Anthropic's too.
`POST /v1/embeddings` routes to an embedding model.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from modelyard.api.deps import caller, validated
from modelyard.api.responses import AccountedResponse
from modelyard.api.schemas import ChatCompletionRequest, documented_body, error_responses
from modelyard.api.sse import EventStreamResponse
from modelyard.errors import GatewayError
from modelyard.gateway import StreamResponse
from modelyard.providers.anthropic import (
    MessageEventWriter,
    error_type_for_status,
    message_from_openai,
    openai_request,
)
from modelyard.settings import get_settings

router = APIRouter()


class MessagesRequest(BaseModel):
    """What Anthropic requires of a Messages request; the rest passes through as sent."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    messages: list[dict[str, Any]] = Field(min_length=1)


class AnthropicErrorDetail(BaseModel):
    type: str
    message: str


class AnthropicError(BaseModel):
    """Errors of `/v1/messages`, in Anthropic's shape."""

    type: Literal["error"]
    error: AnthropicErrorDetail


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1)


async def _body(request: Request, model: type[BaseModel]) -> dict[str, Any]:
    from modelyard.api.app import read_json  # app includes this router: import it late

    body = await read_json(request, get_settings().max_body_bytes)
    validated(model, body)
    return body


@router.post(
    "/v1/messages",
    openapi_extra=documented_body(MessagesRequest),
    responses=error_responses(AnthropicError),
)
async def messages(request: Request) -> Response:
    """Anthropic's Messages API (the anthropic SDK with `base_url` at this host)."""
    request_id: str = request.state.request_id
    message_id = "msg_" + request_id.removeprefix("req_")
    try:
        gateway, key = await caller(request)
        body = openai_request(await _body(request, MessagesRequest))
        validated(ChatCompletionRequest, body)
        outcome = await gateway.chat(
            body, key, request_id, request.headers.get("x-modelyard-policy")
        )
    except GatewayError as exc:
        return anthropic_error(exc)
    if isinstance(outcome, StreamResponse):
        events = _message_events(outcome.chunks, MessageEventWriter(message_id))
        return EventStreamResponse(events, headers=outcome.headers, source=outcome.chunks)
    return AccountedResponse(
        message_from_openai(outcome.body, message_id), outcome.headers, outcome.accounting
    )


@router.post(
    "/v1/embeddings",
    openapi_extra=documented_body(EmbeddingsRequest),
    responses=error_responses(),
)
async def embeddings(request: Request) -> Response:
    """OpenAI's embeddings, served by an embedding model and accounted like a completion."""
    gateway, key = await caller(request)
    body = await _body(request, EmbeddingsRequest)
    outcome = await gateway.embeddings(body, key, request.state.request_id)
    return AccountedResponse(outcome.body, outcome.headers, outcome.accounting)


def anthropic_error(exc: GatewayError) -> JSONResponse:
    """A gateway error in Anthropic's shape; the attempts, if any, ride along."""
    error: dict[str, Any] = {"type": error_type_for_status(exc.status), "message": exc.message}
    error.update(exc.extra)
    return JSONResponse(
        {"type": "error", "error": error}, status_code=exc.status, headers=exc.headers
    )


async def _message_events(
    chunks: AsyncIterator[bytes], writer: MessageEventWriter
) -> AsyncIterator[bytes]:
    """The gateway's OpenAI SSE stream, re-framed as Anthropic's named events."""
    try:
        async for frame in chunks:
            for line in frame.splitlines():
                if not line.startswith(b"data: "):
                    continue
                data = line[6:]
                if data == b"[DONE]":
                    for event in writer.finish():
                        yield _event(event)
                    return
                chunk = json.loads(data)
                if "error" in chunk:  # the upstream failed mid-stream
                    error = {"type": "api_error", "message": chunk["error"].get("message", "")}
                    yield _event({"type": "error", "error": error})
                    return
                for event in writer.feed(chunk):
                    yield _event(event)
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def _event(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n".encode()
