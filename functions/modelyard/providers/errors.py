"""The error taxonomy every provider adapter maps its failures into.

Fallback and retry decisions read only `UpstreamError.kind` and `retryable`, never a provider's
own status codes or messages.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    CONNECTION = "connection_error"
    MALFORMED_RESPONSE = "malformed_response"
    CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
    CONTENT_FILTERED = "content_filtered"
    AUTH_ERROR = "auth_error"
    BAD_REQUEST = "bad_request"
    NOT_FOUND = "not_found"


RETRYABLE = frozenset(
    {
        ErrorKind.RATE_LIMITED,
        ErrorKind.OVERLOADED,
        ErrorKind.TIMEOUT,
        ErrorKind.SERVER_ERROR,
        ErrorKind.CONNECTION,
        ErrorKind.MALFORMED_RESPONSE,
    }
)

#: Errors that another model may not repeat: worth falling back on, not worth retrying here.
FALL_BACK_ON = RETRYABLE | {
    ErrorKind.CONTEXT_LENGTH_EXCEEDED,
    ErrorKind.CONTENT_FILTERED,
    ErrorKind.AUTH_ERROR,
    ErrorKind.NOT_FOUND,
}


class UpstreamError(Exception):
    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


def kind_for_status(status: int, message: str = "") -> ErrorKind:
    """Map an HTTP status (and, for 400s, the message) into the taxonomy."""
    text = message.lower()
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status in (503, 529):
        return ErrorKind.OVERLOADED
    if status in (408, 504):
        return ErrorKind.TIMEOUT
    if status >= 500:
        return ErrorKind.SERVER_ERROR
    if status in (401, 403):
        return ErrorKind.AUTH_ERROR
    if status == 404:
        return ErrorKind.NOT_FOUND
    if ("context" in text and ("length" in text or "window" in text)) or any(
        phrase in text
        for phrase in (
            "too many tokens",
            "maximum number of tokens",  # Gemini
            "input is too long",  # Bedrock
        )
    ):
        return ErrorKind.CONTEXT_LENGTH_EXCEEDED
    if "content" in text and ("filter" in text or "policy" in text or "safety" in text):
        return ErrorKind.CONTENT_FILTERED
    return ErrorKind.BAD_REQUEST


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; HTTP dates are rare upstream)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
