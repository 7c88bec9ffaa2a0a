"""The FastAPI app: thin routes over `Gateway`.

The same app runs under uvicorn locally, under uvicorn behind the Lambda Web Adapter when
deployed (streaming), and under Mangum for API Gateway proxy events (buffered).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.api import errors
from modelyard.api.admin import router as admin_router
from modelyard.api.compat import router as compat_router
from modelyard.api.deps import caller, validated
from modelyard.api.idempotent import idempotent_chat
from modelyard.api.limits import parse_json_body
from modelyard.api.responses import AccountedResponse
from modelyard.api.schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    ErrorResponse,
    FeedbackRequest,
    ModelList,
    documented_body,
    with_body_definitions,
)
from modelyard.api.sse import EventStreamResponse
from modelyard.auth.keys import KeyRecord
from modelyard.errors import PayloadTooLarge
from modelyard.gateway import Gateway, StreamResponse, new_request_id
from modelyard.jobs import JOB_OBJECT, prefers_async, require_jobs
from modelyard.logs import REQUEST_ID, log_exchange
from modelyard.settings import Settings, get_settings

CHAT_PATH = "/v1/chat/completions"
access_log = logging.getLogger("modelyard.access")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 413, 415, 429, 502, 504)
}


class RequestIdMiddleware:
    """Gives every request an id (header, logs, ledger) and logs one line per request.

    Pure ASGI, so streamed bodies pass through untouched. Logs no key and no prompt.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_token = REQUEST_ID.set(request_id)  # on every log line of the request
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(k == b"x-modelyard-request-id" for k, _ in headers):
                    headers.append((b"x-modelyard-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "%s %s %s %d %.1fms",
                request_id,
                scope.get("method"),
                scope.get("path"),
                status,
                (time.perf_counter() - started) * 1000,
            )
            REQUEST_ID.reset(request_id_token)


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object, refusing anything larger than `max_bytes` before reading it
    (and, see api.limits, any other content type, invalid UTF-8 and too deep nesting)."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return parse_json_body(b"".join(chunks), request.headers.get("content-type"))


def create_app(
    gateway: Gateway | None = None,
    settings: Settings | None = None,
    gateway_factory: Callable[[Settings], Gateway] | None = None,
) -> FastAPI:
    """The app; the gateway is built on first use unless given (no AWS client at import)."""
    app = FastAPI(
        title="Modelyard",
        version="0.1.0",
        description="OpenAI-compatible LLM gateway: task routing, fallback, exact cost.",
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(RequestIdMiddleware)
    state: dict[str, Any] = {"gateway": gateway, "settings": settings}

    def current_settings() -> Settings:
        if state["settings"] is None:
            state["settings"] = get_settings()
        return state["settings"]

    def current_gateway() -> Gateway:
        if state["gateway"] is None:
            if gateway_factory is None:
                from modelyard.wiring import build_gateway

                state["gateway"] = build_gateway(current_settings())
            else:
                state["gateway"] = gateway_factory(current_settings())
        return state["gateway"]

    app.state.gateway = current_gateway
    app.include_router(compat_router)
    app.include_router(admin_router)
    openapi = app.openapi
    app.openapi = lambda: with_body_definitions(openapi())  # type: ignore[method-assign]

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models", response_model=ModelList, responses=ERROR_RESPONSES)
    async def list_models(request: Request) -> JSONResponse:
        gw, key = await caller(request)
        return JSONResponse(await gw.models(key))

    @app.get("/v1/usage", responses=ERROR_RESPONSES)
    async def usage(
        request: Request, since: str | None = None, until: str | None = None
    ) -> JSONResponse:
        gw, key = await caller(request)
        return JSONResponse(await gw.tenant_usage(key, since, until))

    @app.post(
        "/v1/feedback",
        responses=ERROR_RESPONSES,
        openapi_extra=documented_body(FeedbackRequest),
    )
    async def feedback(request: Request) -> JSONResponse:
        gw, key = await caller(request)
        rating = validated(FeedbackRequest, await read_json(request, 4096))
        return JSONResponse(await gw.feedback(key, rating.request_id, rating.score))

    @app.post(
        CHAT_PATH,
        response_model=ChatCompletion,
        responses=ERROR_RESPONSES,
        openapi_extra=documented_body(ChatCompletionRequest),
    )
    async def chat_completions(request: Request) -> Response:
        gw, key = await caller(request)
        body = await read_json(request, current_settings().max_body_bytes)
        validated(ChatCompletionRequest, body)
        if prefers_async(request.headers.get("prefer")):
            return await start_job(
                gw, body, key, request.state.request_id, request.headers.get("x-modelyard-policy")
            )
        policy = request.headers.get("x-modelyard-policy")
        cache_control = request.headers.get("cache-control")
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key is not None and gw.idempotency:
            return await idempotent_chat(
                gw,
                gw.idempotency,
                idempotency_key,
                body,
                key,
                request.state.request_id,
                policy,
                cache_control,
            )
        outcome = await gw.chat(body, key, request.state.request_id, policy, cache_control)
        if isinstance(outcome, StreamResponse):
            return EventStreamResponse(outcome.chunks, headers=outcome.headers)
        tenant = await gw.config.tenant_async(key.tenant)
        if tenant is not None and tenant.log_prompts:  # the tenant's opt-in, never by default
            log_exchange(request.state.request_id, key.tenant, body, outcome.body)
        return AccountedResponse(outcome.body, outcome.headers, outcome.accounting)

    @app.get("/v1/jobs/{job_id}", responses=ERROR_RESPONSES)
    async def get_job(job_id: str, request: Request) -> JSONResponse:
        gw, key = await caller(request)
        jobs = require_jobs(gw.jobs)
        return JSONResponse(await asyncio.to_thread(jobs.get, job_id, key.tenant))

    # Starlette tries routes in order: the hot one first (15 others before it cost ~0.15 ms)
    app.router.routes.sort(key=lambda route: getattr(route, "path", "") != CHAT_PATH)
    return app


async def start_job(
    gw: Gateway,
    body: dict[str, Any],
    key: KeyRecord,
    request_id: str,
    header_policy: str | None,
) -> JSONResponse:
    """`Prefer: respond-async`: 202 and where to poll; the state machine does the attempts."""
    job_id = await gw.start_job(body, key, request_id, header_policy)
    return JSONResponse(
        {"id": job_id, "object": JOB_OBJECT, "status": "running"},
        status_code=202,
        headers={"Location": f"/v1/jobs/{job_id}", "Preference-Applied": "respond-async"},
    )
