"""Runs registered Lambda handlers in process when the embedded moto server invokes them.

moto runs no Lambda code without Docker: its simple backend answers every invoke with the
payload it was given (or a queued result), and never with a function error. The local stack's
moto server lives in this process, so for the functions registered here an invoke calls the
real handler instead and answers as Lambda's Python runtime does: the return value as JSON, or,
for an exception, `X-Amz-Function-Error: Unhandled` and `{"errorType", "errorMessage"}`. Step
Functions names the error after `errorType`, which is what Retry and Catch match on, so the
deployed state machine definition runs unchanged. Other functions keep moto's behaviour.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("modelyard.local")

Handler = Callable[[dict[str, Any], Any], Any]

#: function name -> "module.function" (imported on first invoke, as Lambda does)
_handlers: dict[str, str] = {}
_lock = threading.Lock()
_original: Any = None


def register(function_name: str, handler: str) -> None:
    """Run `handler` ("package.module.function") when moto invokes `function_name`."""
    with _lock:
        _handlers[function_name] = handler
        _install()


def unregister(function_name: str) -> None:
    with _lock:
        _handlers.pop(function_name, None)
        if not _handlers:
            _uninstall()


def _resolve(path: str) -> Handler:
    module, _, name = path.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module), name)
    return handler


def invoke(handler: Handler, payload: str | bytes | None) -> tuple[bytes, str | None]:
    """(response payload, function error) for one synchronous invoke, as Lambda answers."""
    event = json.loads(payload) if payload else {}
    try:
        result = handler(event, None)
    except Exception as exc:
        body = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
        return json.dumps(body).encode(), "Unhandled"
    return json.dumps(result, default=str).encode(), None


def _install() -> None:
    global _original
    if _original is not None:
        return
    from moto.awslambda_simple.models import LambdaSimpleBackend

    _original = LambdaSimpleBackend.invoke

    def simple_invoke(
        self: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> str | bytes | None:
        name = self.get_function(function_name, qualifier).function_name
        path = _handlers.get(name)
        if path is None or headers.get("X-Amz-Invocation-Type") in ("Event", "DryRun"):
            return _original(self, function_name, qualifier, body, headers, response_headers)
        payload, error = invoke(_resolve(path), body)
        if error:
            response_headers["x-amz-function-error"] = error
        return payload

    LambdaSimpleBackend.invoke = simple_invoke  # type: ignore[method-assign]


def _uninstall() -> None:
    global _original
    if _original is None:
        return
    from moto.awslambda_simple.models import LambdaSimpleBackend

    LambdaSimpleBackend.invoke = _original  # type: ignore[method-assign]
    _original = None
