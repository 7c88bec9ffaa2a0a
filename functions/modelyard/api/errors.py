"""Exception handlers: every error leaves in its endpoint's shape (OpenAI's, or Anthropic's on
`/v1/messages`) with the contract's status, and its message cut short (no request echoes
kilobytes of its own input back). An unexpected exception is answered by
`api.app.RequestIdMiddleware`, with `internal_error`, in the same shape."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from modelyard.errors import GatewayError
from modelyard.providers.anthropic import error_type_for_status

#: the routes that answer errors in Anthropic's shape (and any other path under /v1/messages/)
ANTHROPIC_PATHS = frozenset({"/v1/messages", "/v1/messages/count_tokens"})
ANTHROPIC_PREFIX = "/v1/messages/"
#: an error message longer than this is cut (its input may be the client's 64 KB string)
MAX_MESSAGE_CHARS = 512

_STATUS_TYPES = {
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
}
#: the public API's prefix: a path under it that no route serves is an endpoint we lack
API_PREFIX = "/v1/"


def is_anthropic(path: str) -> bool:
    """Whether `path` answers errors in Anthropic's shape."""
    return path in ANTHROPIC_PATHS or path.startswith(ANTHROPIC_PREFIX)


def unmatched(method: str, path: str, status: int) -> tuple[str, str] | None:
    """The message and code for a request no route took: a path the gateway does not serve
    (404) or a method its path does not take (405); None for anything else."""
    if status == 404 and path.startswith(API_PREFIX):
        return (
            f"{method} {path} is not an endpoint this gateway serves "
            "(/openapi.json lists the ones it does)",
            "unsupported_endpoint",
        )
    if status == 405:
        return f"{method} is not allowed on {path}", "method_not_allowed"
    return None


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def error_response(
    path: str,
    status: int,
    message: str,
    type_: str,
    code: str | None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """An error answer in the shape of the endpoint at `path`."""
    body: dict[str, Any]
    if is_anthropic(path):
        error = {"type": error_type_for_status(status), "message": clip(message), **(extra or {})}
        body = {"type": "error", "error": error}
    else:
        error = {"message": clip(message), "type": type_, "param": param, "code": code}
        body = {"error": {**error, **(extra or {})}}
    return JSONResponse(body, status_code=status, headers=headers)


def internal_error(path: str) -> JSONResponse:
    message = "internal error; the request id names it in our logs"
    return error_response(path, 500, message, "api_error", "internal_error")


#: what pydantic puts in an error's location for the member of a union that failed
_UNION_MEMBERS = frozenset({"str", "int", "float", "bool", "none", "dict", "list"})


def validation_message(exc: ValidationError | RequestValidationError) -> tuple[str, str | None]:
    """The message and parameter of the deepest error: for a union such as a message's
    `content` (a string or a list of parts), the member that got furthest says what is wrong."""
    errors = exc.errors()
    if not errors:
        return "invalid request", None
    deepest = max(errors, key=lambda error: len(error.get("loc", ())))
    loc = [
        str(p)
        for p in deepest.get("loc", ())
        if p != "body" and str(p) not in _UNION_MEMBERS and "[" not in str(p)
    ]
    param = ".".join(loc) or None
    return f"{param + ': ' if param else ''}{deepest.get('msg', 'invalid value')}", param


def install(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        return error_response(
            request.url.path,
            exc.status,
            exc.message,
            exc.type,
            exc.code,
            exc.param,
            exc.headers,
            exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_message(exc)
        return error_response(
            request.url.path, 400, message, "invalid_request_error", "invalid_request", param
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        type_, code = _STATUS_TYPES.get(exc.status_code, ("invalid_request_error", None))
        path = request.url.path
        message = str(exc.detail)
        found = unmatched(request.method, path, exc.status_code)
        if found is not None:
            message, code = found
        return error_response(
            path, exc.status_code, message, type_, code, headers=getattr(exc, "headers", None)
        )
