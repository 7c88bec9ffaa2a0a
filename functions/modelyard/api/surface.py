"""The client surface's smaller routes: one model (`GET /v1/models/{id}`) and Anthropic's
token counting (`POST /v1/messages/count_tokens`).

Counting uses the router's own estimate (routing.planner.RequestFeatures: the prompt's
characters over four, per-message overhead, tools' schemas), the figure admission, rate
limits and budgets count with; no provider's tokenizer is run, so the answer says it is an
estimate in `x-modelyard-token-count: estimate`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from modelyard.api.compat import AnthropicError, read_body
from modelyard.api.deps import caller
from modelyard.api.schemas import CountTokensRequest, ModelCard, documented_body, error_responses
from modelyard.providers.anthropic import openai_request
from modelyard.routing.planner import RequestFeatures

#: says how a token count was made: `estimate` (the router's), never a provider's tokenizer
TOKEN_COUNT_HEADER = "x-modelyard-token-count"

router = APIRouter()


@router.get("/v1/models/{model_id:path}", response_model=ModelCard, responses=error_responses())
async def retrieve_model(model_id: str, request: Request) -> JSONResponse:
    """One model or `auto` route, by any name the router accepts; 404 if the key may not use it."""
    gateway, key = await caller(request)
    return JSONResponse(await gateway.models(key, model_id))


@router.post(
    "/v1/messages/count_tokens",
    openapi_extra=documented_body(CountTokensRequest),
    responses=error_responses(AnthropicError),
)
async def count_tokens(request: Request) -> JSONResponse:
    """Anthropic's token count for a Messages body: system, messages and tools, estimated."""
    gateway, key = await caller(request)
    body = await read_body(request, CountTokensRequest)
    await gateway.models(key, str(body["model"]))  # 404 for a model the key may not use
    tokens = RequestFeatures.from_chat(openai_request(body)).estimated_input_tokens
    return JSONResponse({"input_tokens": tokens}, headers={TOKEN_COUNT_HEADER: "estimate"})
