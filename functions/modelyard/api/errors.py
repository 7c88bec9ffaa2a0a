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

#: the routes that answer errors in Anthropic's shape
ANTHROPIC_PATHS = frozenset({"/v1/messages"})
#: an error message longer than this is cut (its input may be the client's 64 KB string)
MAX_MESSAGE_CHARS = 512

_STATUS_TYPES = {
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
}


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
    if path in ANTHROPIC_PATHS:
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
        return error_response(
            request.url.path,
            exc.status_code,
            str(exc.detail),
            type_,
            code,
            headers=getattr(exc, "headers", None),
        )
