"""Inbound compatibility: Anthropic's Messages API and OpenAI's embeddings, as routes over the
same `Gateway` the chat completions use.

`POST /v1/messages` turns the Messages request into an OpenAI chat body, runs it through
`Gateway.chat` (so routing, fallback, pricing and accounting are the chat path's own) and turns
the answer, or the stream, back into Anthropic's shapes; served by an Anthropic model, the
request goes up as sent and the answer comes back as Anthropic wrote it (providers.native).
Its errors are Anthropic's too (api.errors writes them so for this path).
`POST /v1/embeddings` routes to an embedding model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelyard.api.deps import caller, validated
from modelyard.api.responses import AccountedResponse
from modelyard.api.schemas import (
    ChatCompletionRequest,
    MessagesRequest,
    documented_body,
    error_responses,
)
from modelyard.api.sse import EventStreamResponse, chat_chunks
from modelyard.exchange import StreamResponse
from modelyard.providers.anthropic import (
    MessageEventWriter,
    message_from_openai,
    openai_request,
)
from modelyard.providers.native import MESSAGES, carry, event_frame
from modelyard.routing.planner import embedding_tokens
from modelyard.settings import get_settings

router = APIRouter()


class AnthropicErrorDetail(BaseModel):
    type: str
    message: str


class AnthropicError(BaseModel):
    """Errors of `/v1/messages`, in Anthropic's shape."""

    type: Literal["error"]
    error: AnthropicErrorDetail


#: OpenAI's limits for one embeddings request: inputs, and tokens in all of them
MAX_EMBEDDING_INPUTS = 2048
MAX_EMBEDDING_TOKENS = 300_000


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=256)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _within_input_limit(cls, data: Any) -> Any:
        """Counted before the items are validated one by one (200,000 of them fit in 1 MiB)."""
        inputs = data.get("input") if isinstance(data, dict) else None
        if not isinstance(inputs, list):
            return data
        if not inputs:
            raise ValueError("input is empty")
        if not isinstance(inputs[0], int) and len(inputs) > MAX_EMBEDDING_INPUTS:  # int: 1 input
            raise ValueError(f"input has {len(inputs)} items; at most {MAX_EMBEDDING_INPUTS}")
        return data

    @model_validator(mode="after")
    def _within_token_limit(self) -> EmbeddingsRequest:
        tokens = embedding_tokens(self.input)
        if tokens > MAX_EMBEDDING_TOKENS:
            raise ValueError(f"input has ~{tokens} tokens; at most {MAX_EMBEDDING_TOKENS}")
        return self


async def read_body(request: Request, model: type[BaseModel]) -> dict[str, Any]:
    """The request's JSON body, limited (api.app.read_json) and validated as `model`."""
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
    gateway, key = await caller(request)
    sent = await read_body(request, MessagesRequest)
    body = openai_request(sent)
    validated(ChatCompletionRequest, body)
    carry(body, MESSAGES, sent)  # to an Anthropic model it goes up as sent (providers.native)
    outcome = await gateway.chat(body, key, request_id, request.headers.get("x-modelyard-policy"))
    if isinstance(outcome, StreamResponse):
        if outcome.native:
            return EventStreamResponse(outcome.chunks, headers=outcome.headers)
        events = _message_events(outcome.chunks, MessageEventWriter(message_id))
        return EventStreamResponse(events, headers=outcome.headers, source=outcome.chunks)
    answer = outcome.native or message_from_openai(outcome.body, message_id)
    return AccountedResponse(answer, outcome.headers, outcome.accounting)


@router.post(
    "/v1/embeddings",
    openapi_extra=documented_body(EmbeddingsRequest),
    responses=error_responses(),
)
async def embeddings(request: Request) -> Response:
    """OpenAI's embeddings, served by an embedding model and accounted like a completion."""
    gateway, key = await caller(request)
    body = await read_body(request, EmbeddingsRequest)
    outcome = await gateway.embeddings(body, key, request.state.request_id)
    return AccountedResponse(outcome.body, outcome.headers, outcome.accounting)


async def _message_events(
    chunks: AsyncIterator[bytes], writer: MessageEventWriter
) -> AsyncIterator[bytes]:
    """The gateway's OpenAI SSE stream, re-framed as Anthropic's named events."""
    async for chunk in chat_chunks(chunks):
        if chunk is None:
            for event in writer.finish():
                yield event_frame(event)
        elif "error" in chunk:  # the upstream failed mid-stream
            error = {"type": "api_error", "message": chunk["error"].get("message", "")}
            yield event_frame({"type": "error", "error": error})
            return
        else:
            for event in writer.feed(chunk):
                yield event_frame(event)
