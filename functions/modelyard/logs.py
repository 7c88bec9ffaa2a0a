"""Structured logs: Powertools Logger (one JSON object a line), the request id on every line,
secrets scrubbed from every line.

- `configure_logging()` runs once per process, at the Lambda entry points and in `modelyard
  serve`, never per request. Every `modelyard.*` logger is a child of the Powertools logger
  named after the service, so modules keep using `logging.getLogger(__name__)` and pay nothing
  for Powertools at import; Powertools itself is imported only here.
- The request id comes from a context variable that the API's middleware sets, so concurrent
  requests on one event loop (uvicorn) each log their own id, and `asyncio.to_thread` work
  inherits it. Powertools' `append_keys` would be shared across those requests.
- Redaction is on the output, always: the formatted line is scrubbed of `sk-...` keys, bearer
  tokens, AWS access key ids and every secret value the process has seen (the key pepper,
  provider credentials, `*_API_KEY` variables), so a secret in an exception message or in a
  third-party library's record is caught too. Other handlers (Lambda's own, the local console)
  get a filter that scrubs the message and the rendered traceback.
- Prompt and completion text is logged only through `log_exchange`, which the API calls only
  for tenants whose settings turned `log_prompts` on.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from contextvars import ContextVar
from typing import IO, Any

#: the current request's id (set by the API middleware for the request's whole life)
REQUEST_ID: ContextVar[str | None] = ContextVar("modelyard_request_id", default=None)

REDACTED = "[REDACTED]"
#: values shorter than this are not registered as secrets (they would scrub ordinary words)
MIN_SECRET_LENGTH = 8
_PATTERNS = (
    r"sk-[A-Za-z0-9_\-]{6,}",  # OpenAI-style and Modelyard keys (sk-my-..., sk-modelyard-...)
    r"(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{6,}",
    r"(?:AKIA|ASIA)[0-9A-Z]{16}",  # AWS access key ids
    r"AIza[0-9A-Za-z_\-]{30,}",  # Google API keys
)
_SECRET_ENV_SUFFIXES = ("_API_KEY", "_SECRET", "_TOKEN", "_PEPPER", "_ADMIN_KEY")

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern = re.compile("|".join(_PATTERNS))
_configured: logging.Handler | None = None

prompt_log = logging.getLogger("modelyard.prompts")


def register_secret(value: str | None) -> None:
    """Scrub `value` from every log line from now on (the pepper, provider credentials)."""
    global _pattern
    if not value or len(value) < MIN_SECRET_LENGTH or value in _secrets:
        return
    with _lock:
        _secrets.add(value)
        known = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join([*(re.escape(s) for s in known), *_PATTERNS]))


def redact(text: str) -> str:
    return _pattern.sub(REDACTED, text)


def _register_environment() -> None:
    for name, value in os.environ.items():
        if name.endswith(_SECRET_ENV_SUFFIXES) and not name.endswith("_ARN"):
            register_secret(value)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record logged while a request is being served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class RedactingFilter(logging.Filter):
    """Scrubs secrets from a record's message and traceback, for handlers that format records
    themselves (Lambda's runtime handler, the local console)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def configure_logging(stream: IO[str] | None = None) -> logging.Handler:
    """Install the Powertools JSON handler on the service's logger (once); returns it.

    `stream` is where lines go (standard output, which Lambda sends to CloudWatch, by
    default); a second call returns the same handler, pointed at `stream` if one is given.
    """
    global _configured
    _register_environment()
    if _configured is not None:
        if stream is not None and isinstance(_configured, logging.StreamHandler):
            _configured.setStream(stream)
        return _configured
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    class RedactingFormatter(LambdaPowertoolsFormatter):
        def format(self, record: logging.LogRecord) -> str:
            return redact(super().format(record))

    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "modelyard")
    logger = Logger(service=service, stream=stream, logger_formatter=RedactingFormatter())
    handler = logger.registered_handler
    handler.addFilter(RequestIdFilter())
    for root_handler in logging.getLogger().handlers:
        root_handler.addFilter(RedactingFilter())
    for noisy in ("botocore", "boto3", "urllib3", "httpcore", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = handler
    return handler


def log_exchange(
    request_id: str, tenant: str, request: dict[str, Any], response: dict[str, Any]
) -> None:
    """Prompt and completion text, for a tenant that opted in (nothing calls it otherwise)."""
    prompt_log.info(
        "exchange",
        extra={
            "request_id": request_id,
            "tenant": tenant,
            "messages": request.get("messages"),
            "choices": response.get("choices"),
        },
    )
