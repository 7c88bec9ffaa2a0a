"""The FastAPI app: thin routes over `Gateway`.

The same app runs under uvicorn locally, under uvicorn behind the Lambda Web Adapter when
deployed (streaming), and under Mangum for API Gateway proxy events (buffered).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard import tracing
from modelyard.api import ADMIN_PREFIX, errors
from modelyard.api.compat import router as compat_router
from modelyard.api.deps import caller, validated
from modelyard.api.idempotent import idempotent_or_not
from modelyard.api.limits import parse_json_body
from modelyard.api.responses import AccountedResponse
from modelyard.api.responses_api import router as responses_router
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
from modelyard.api.surface import router as surface_router
from modelyard.auth.keys import KeyRecord
from modelyard.capped import TooLarge, read_capped
from modelyard.errors import InvalidRequest, NotFound, PayloadTooLarge
from modelyard.exchange import StreamResponse, new_request_id
from modelyard.gateway import Gateway
from modelyard.jobs import JOB_OBJECT, prefers_async, require_jobs
from modelyard.logs import REQUEST_ID, log_exchange
from modelyard.providers.native import is_private
from modelyard.settings import Settings, get_settings

CHAT_PATH = "/v1/chat/completions"
access_log = logging.getLogger("modelyard.access")
logger = logging.getLogger("modelyard.api")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 413, 415, 429, 502, 504)
}


class RequestIdMiddleware:
    """Gives every request an id (headers, logs, ledger) and logs one line per request.

    It is also the last word on failures: an exception no handler took is logged with its
    traceback and answered 500 in the endpoint's error shape with the id headers; a client
    that went away mid-request is one log line. Pure ASGI, so streamed bodies pass through
    untouched. Logs no key and no prompt.
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
        disconnected = False
        path = scope.get("path", "")
        encoded_id = request_id.encode()
        id_headers = [(b"x-modelyard-request-id", encoded_id), (b"x-request-id", encoded_id)]
        if errors.is_anthropic(path):
            id_headers.append((b"request-id", encoded_id))  # where Anthropic's SDK looks

        async def receive_watching() -> Message:
            nonlocal disconnected
            message = await receive()
            disconnected = disconnected or message["type"] == "http.disconnect"
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                names = {k for k, _ in headers}
                headers.extend(h for h in id_headers if h[0] not in names)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive_watching, send_with_id)
        except Exception as exc:
            if disconnected or isinstance(exc, ClientDisconnect):
                access_log.info("%s client disconnected (%s)", request_id, type(exc).__name__)
            else:
                logger.exception("unhandled error in request %s", request_id)
                if not status:
                    await errors.internal_error(path)(scope, receive, send_with_id)
        finally:
            access_log.info(
                "%s %s %s %d %.1fms",
                request_id,
                scope.get("method"),
                path,
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
    try:
        raw = await read_capped(request.stream(), max_bytes)
    except TooLarge:
        raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes") from None
    return parse_json_body(raw, request.headers.get("content-type"))


def create_app(
    gateway: Gateway | None = None,
    settings: Settings | None = None,
    gateway_factory: Callable[[Settings], Gateway] | None = None,
    *,
    public: bool = True,
    admin: bool = False,
) -> FastAPI:
    """The app; the gateway is built on first use unless given (no AWS client at import).

    `public` serves `/v1` and documents it at `/openapi.json`; `admin` serves `/admin` and
    documents it at `/admin/openapi.json`. Deployed, the router function is public only and
    the admin function admin only (API Gateway sends it `/admin/{proxy+}` behind IAM auth),
    so no path the router receives, however it is encoded, reaches an admin route; locally
    `modelyard serve` has both.
    """
    app = FastAPI(
        title="Modelyard",
        version="0.1.0",
        description="OpenAI-compatible LLM gateway: task routing, fallback, exact cost.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if public else None,
    )
    errors.install(app)
    app.add_middleware(RequestIdMiddleware)
    if tracing.enabled():  # off by default: no OpenTelemetry import, no middleware
        app.add_middleware(tracing.RequestSpans)
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
    admin_router: APIRouter | None = None
    if admin:  # imported only here: the router function's cold start never loads it
        from modelyard.api.admin import router

        admin_router = router
        app.include_router(router, dependencies=[Depends(literal_admin_path)])
    document = functools.cache(functools.partial(_document, app, admin_router))  # on demand
    app.openapi = lambda: document(admin=False)  # type: ignore[method-assign]
    if admin:

        @app.get("/admin/openapi.json", include_in_schema=False)
        async def admin_openapi() -> dict[str, Any]:
            return document(admin=True)

    if not public:
        return app
    app.include_router(compat_router)
    app.include_router(responses_router)
    app.include_router(surface_router)

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
        if reserved := next((name for name in body if is_private(name)), None):
            raise InvalidRequest(f"{reserved!r} is the gateway's own field", param=reserved)
        if prefers_async(request.headers.get("prefer")):
            return await start_job(
                gw, body, key, request.state.request_id, request.headers.get("x-modelyard-policy")
            )
        policy = request.headers.get("x-modelyard-policy")
        cache_control = request.headers.get("cache-control")

        async def serve() -> Response:
            outcome = await gw.chat(body, key, request.state.request_id, policy, cache_control)
            if isinstance(outcome, StreamResponse):
                return EventStreamResponse(outcome.chunks, headers=outcome.headers)
            tenant = await gw.config.tenant_async(key.tenant)
            if tenant is not None and tenant.log_prompts:  # the tenant's opt-in, never default
                log_exchange(request.state.request_id, key.tenant, body, outcome.body)
            return AccountedResponse(outcome.body, outcome.headers, outcome.accounting)

        return await idempotent_or_not(request, gw, body, key, serve)

    @app.get("/v1/jobs/{job_id}", responses=ERROR_RESPONSES)
    async def get_job(job_id: str, request: Request) -> JSONResponse:
        gw, key = await caller(request)
        jobs = require_jobs(gw.jobs)
        return JSONResponse(await asyncio.to_thread(jobs.get, job_id, key.tenant))

    # Starlette tries routes in order: the hot one first (15 others before it cost ~0.15 ms)
    app.router.routes.sort(key=lambda route: getattr(route, "path", "") != CHAT_PATH)
    return app


def literal_admin_path(request: Request) -> None:
    """404 for an admin route reached through an encoded path (`/%61dmin/...`,
    `/admin%2F...`): deployed, API Gateway routes by the path as sent, and only a literal
    `/admin/` goes to the IAM-authorised admin function."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    if not raw.startswith(ADMIN_PREFIX.encode() + b"/"):
        raise NotFound("not found", code="not_found")


def _is_admin(route: BaseRoute, admin_router: APIRouter | None) -> bool:
    """An admin route (FastAPI may keep an included router as one entry of its own)."""
    included = admin_router is not None and getattr(route, "original_router", None) is admin_router
    return included or getattr(route, "path", "").startswith(ADMIN_PREFIX + "/")


def _document(app: FastAPI, admin_router: APIRouter | None, *, admin: bool) -> dict[str, Any]:
    """The OpenAPI document of the public routes, or of the admin ones."""
    routes = [route for route in app.routes if _is_admin(route, admin_router) is admin]
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=routes
    )
    return with_body_definitions(document)


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
