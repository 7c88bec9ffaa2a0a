"""`/v1/responses`: OpenAI's Responses API over the chat pipeline, and the stored responses.

`POST` translates the request (modelyard.openai_responses.bridge), runs it through
`Gateway.chat` (routing, fallback, budgets, the cache and accounting are the chat path's
own) and translates the answer, or the stream, back. A response with `store` (the default)
is kept for its tenant (store.stored_responses) before its last byte leaves, like the usage
event: a frozen sandbox loses neither. `GET`, `DELETE` and `.../input_items` see only the
calling key's tenant's responses; any other id is a 404.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from modelyard.api.compat import read_body
from modelyard.api.deps import caller, validated
from modelyard.api.idempotent import idempotent_or_not
from modelyard.api.responses import AccountedResponse
from modelyard.api.responses_schema import ResponsesRequest
from modelyard.api.schemas import ChatCompletionRequest, documented_body, error_responses
from modelyard.api.sse import EventStreamResponse, chat_chunks
from modelyard.auth.keys import KeyRecord
from modelyard.errors import NotFound
from modelyard.exchange import StreamResponse
from modelyard.gateway import Gateway
from modelyard.openai_responses import bridge
from modelyard.openai_responses.events import ResponseEventWriter
from modelyard.providers.native import event_frame
from modelyard.store.stored_responses import StoredResponse, StoredResponses

router = APIRouter()
logger = logging.getLogger("modelyard.responses")

#: keeps a finished response (the stored conversation grows by its output)
Keeper = Callable[[dict[str, Any]], Awaitable[None]]


@router.post(
    "/v1/responses",
    openapi_extra=documented_body(ResponsesRequest),
    responses=error_responses(),
)
async def create_response(request: Request) -> Response:
    """A response to `input` (after `previous_response_id`'s conversation), JSON or SSE."""
    gateway, key = await caller(request)
    body = await read_body(request, ResponsesRequest)
    request_id: str = request.state.request_id
    response_id = "resp_" + request_id.removeprefix("req_")
    history: list[dict[str, Any]] = []
    if body.get("previous_response_id"):
        previous = body["previous_response_id"]
        history = (await _stored(gateway, key, previous, "previous_response_id")).context
    items = bridge.input_items(body["input"])
    chat = bridge.chat_body(body, history, items)
    validated(ChatCompletionRequest, chat)
    keep = _keeper(gateway, key, body, items, history)

    async def serve() -> Response:
        outcome = await gateway.chat(
            chat,
            key,
            request_id,
            request.headers.get("x-modelyard-policy"),
            request.headers.get("cache-control"),
        )
        if isinstance(outcome, StreamResponse):
            if outcome.native:
                events = _native_events(outcome.chunks, body, response_id, keep)
            else:
                writer = ResponseEventWriter(body, response_id)
                events = _response_events(outcome.chunks, writer, keep)
            return EventStreamResponse(events, headers=outcome.headers, source=outcome.chunks)
        if outcome.native is not None:
            response = _as_requested(outcome.native, body, response_id)
        else:
            response = bridge.response_from_chat(outcome.body, body, response_id)
            response["modelyard"] = outcome.body.get("modelyard")
        accounting = _both(keep(response), outcome.accounting)
        return AccountedResponse(response, outcome.headers, accounting)

    return await idempotent_or_not(request, gateway, body, key, serve, _is_final)


@router.get("/v1/responses/{response_id}", responses=error_responses())
async def get_response(response_id: str, request: Request) -> JSONResponse:
    gateway, key = await caller(request)
    return JSONResponse((await _stored(gateway, key, response_id)).response)


@router.delete("/v1/responses/{response_id}", responses=error_responses())
async def delete_response(response_id: str, request: Request) -> JSONResponse:
    gateway, key = await caller(request)
    if not await asyncio.to_thread(_store(gateway).delete, key.tenant, response_id):
        raise _not_found(response_id)
    return JSONResponse({"id": response_id, "object": "response", "deleted": True})


@router.get("/v1/responses/{response_id}/input_items", responses=error_responses())
async def list_input_items(
    response_id: str,
    request: Request,
    limit: int = Query(20, ge=1, le=100),
    order: Literal["asc", "desc"] = "desc",
    after: str | None = Query(None, max_length=256),
) -> JSONResponse:
    """The items given as input to the response (not those of the responses before it)."""
    gateway, key = await caller(request)
    items = list((await _stored(gateway, key, response_id)).input_items)
    if order == "desc":
        items.reverse()
    ids = [item.get("id") for item in items]
    start = ids.index(after) + 1 if after in ids else 0
    page = items[start : start + limit]
    return JSONResponse(
        {
            "object": "list",
            "data": page,
            "first_id": page[0].get("id") if page else None,
            "last_id": page[-1].get("id") if page else None,
            "has_more": start + limit < len(items),
        }
    )


def _store(gateway: Gateway) -> StoredResponses:
    if gateway.stored_responses is None:
        raise NotFound("stored responses are not enabled", code="not_found")
    return gateway.stored_responses


def _not_found(response_id: str, param: str = "response_id") -> NotFound:
    return NotFound(
        f"Response with id {response_id!r} not found.", param=param, code="response_not_found"
    )


async def _stored(
    gateway: Gateway, key: KeyRecord, response_id: str, param: str = "response_id"
) -> StoredResponse:
    stored = await asyncio.to_thread(_store(gateway).get, key.tenant, response_id)
    if stored is None:
        raise _not_found(response_id, param)
    return stored


def _keeper(
    gateway: Gateway,
    key: KeyRecord,
    body: dict[str, Any],
    items: list[dict[str, Any]],
    history: list[dict[str, Any]],
) -> Keeper:
    """What stores the response once it is whole (nothing, for `store: false`). A failed or
    too large write is logged, and the answer still goes: only a later chain misses it."""
    store = gateway.stored_responses if body.get("store", True) else None

    async def keep(response: dict[str, Any]) -> None:
        if store is None:
            return
        context = [*history, *items, *response["output"]]
        try:
            kept = await asyncio.to_thread(
                store.put, key.tenant, StoredResponse(response, items, context)
            )
        except Exception:
            logger.exception("storing response %s failed", response["id"])
            return
        if not kept:
            logger.warning("response %s not stored: its conversation is too large", response["id"])

    return keep


async def _both(first: Awaitable[None], second: Coroutine[Any, Any, None] | None) -> None:
    """The response stored and the usage handed off, side by side (both before the body)."""
    await asyncio.gather(first, *([second] if second is not None else []))


async def _response_events(
    chunks: AsyncIterator[bytes], writer: ResponseEventWriter, keep: Keeper
) -> AsyncIterator[bytes]:
    """The gateway's chat stream as Responses events; the response is stored before the
    final `response.completed` goes out."""
    async for chunk in chat_chunks(chunks):
        if chunk is None:
            closing = writer.finish()
            if writer.response is not None:
                await keep(writer.response)
            for event in closing:
                yield event_frame(event)
        elif "error" in chunk:  # the upstream failed mid-stream
            for event in writer.fail(str(chunk["error"].get("message", ""))):
                yield event_frame(event)
            return
        else:
            for event in writer.feed(chunk):
                yield event_frame(event)


def _as_requested(
    response: dict[str, Any], body: dict[str, Any], response_id: str
) -> dict[str, Any]:
    """An upstream's own response under this gateway's id, with what the gateway did for it
    in place of what the upstream was asked (the chain, which the gateway holds; the
    storing, which it does)."""
    return {
        **response,
        "id": response_id,
        "previous_response_id": body.get("previous_response_id"),
        "store": body.get("store", True),
    }


#: the events of a native stream that carry the whole response object, and the last ones
RESPONSE_EVENTS = (b"event: response.created", b"event: response.in_progress")
FINAL_EVENTS = (b"event: response.completed", b"event: response.incomplete")


def _is_final(frame: bytes) -> bool:
    return frame.startswith(FINAL_EVENTS)


async def _native_events(
    chunks: AsyncIterator[bytes], body: dict[str, Any], response_id: str, keep: Keeper
) -> AsyncIterator[bytes]:
    """An upstream's own Responses stream, its response objects as requested
    (`_as_requested`); the finished response is stored before its final event goes out."""
    async for frame in chunks:
        if frame.startswith(RESPONSE_EVENTS + FINAL_EVENTS):
            event = json.loads(frame.partition(b"\ndata: ")[2])
            event["response"] = _as_requested(event["response"], body, response_id)
            if frame.startswith(FINAL_EVENTS):
                await keep(event["response"])
            frame = event_frame(event)
        yield frame
