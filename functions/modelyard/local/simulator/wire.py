"""How the SIMULATED upstream puts bytes on the wire: paced answers and streams, the faults that
cut or garble them, SSE and AWS event-stream framing, and each provider's error body."""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
import zlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from modelyard.local.faults import Fault

FINGERPRINT = "modelyard-simulated"
SIM_HEADERS = {"x-modelyard-simulated": "true"}

#: frames of a stream, each with whether a token's time passes before it
Frames = list[tuple[bytes, bool]]


def first_token_unpaced(frames: Frames) -> Frames:
    """`frames` with the first paced one unpaced: the first token comes with the time to
    first token, each later one a token's time after the one before."""
    first = next((i for i, (_, wait) in enumerate(frames) if wait), None)
    return [(frame, wait and i != first) for i, (frame, wait) in enumerate(frames)]


class SimulatedFailure(Exception):
    """Raised inside a response to cut the connection (a reset or a mid-stream failure)."""


async def answer(
    body: dict[str, Any],
    tokens: int,
    ttft: float,
    per_token: float,
    fault: Fault | None,
    broken: bytes,
    headers: dict[str, str] = SIM_HEADERS,
) -> Response:
    """A whole answer, after as long as the model would take to write it, or its fault."""
    await asyncio.sleep(ttft + per_token * tokens)
    if fault is not None and fault.kind == "malformed":
        return Response(broken, media_type="application/json")
    if fault is not None and fault.kind in ("reset", "midstream"):
        return _CutResponse(body)
    return JSONResponse(body, headers=headers)


async def paced(
    frames: Frames,
    ttft: float,
    per_token: float,
    fault: Fault | None,
    broken: bytes | None,
    cut_at: int,
) -> AsyncIterator[bytes]:
    """Stream frames as the model makes them: its time to first token, then a token's time
    before each frame marked paced; faults cut, garble or reset the stream."""
    if fault is not None and fault.kind == "reset":
        raise SimulatedFailure("connection reset before the first byte")
    await asyncio.sleep(ttft)
    if fault is not None and fault.kind == "malformed" and broken is not None:
        yield broken
        return
    for i, (frame, wait) in enumerate(frames):
        if fault is not None and fault.kind == "midstream" and i == cut_at:
            raise SimulatedFailure("connection dropped mid-stream")
        if wait:
            await asyncio.sleep(per_token)
        yield frame


def stream(
    frames: AsyncIterator[bytes],
    media_type: str = "text/event-stream",
    headers: dict[str, str] = SIM_HEADERS,
) -> StreamingResponse:
    return StreamingResponse(frames, media_type=media_type, headers=headers)


def sse(payload: dict[str, Any], end: bytes = b"\n\n") -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + end


def named_event(event: dict[str, Any]) -> bytes:
    """An SSE event named by the payload's `type` (Anthropic's and the Responses API's)."""
    data = json.dumps(event, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


def bedrock_frame(event_type: str, payload: dict[str, Any], corrupt: bool) -> bytes:
    message = event_stream_message(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(payload, separators=(",", ":")).encode(),
    )
    return message[:-4] + b"\x00\x00\x00\x00" if corrupt else message  # a wrong message CRC


def event_stream_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One `application/vnd.amazon.eventstream` message: prelude (total and headers length,
    CRC32), string headers (type 7), payload, CRC32 of everything before it."""
    encoded = b"".join(
        struct.pack(">B", len(name))
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value.encode()))
        + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", 16 + len(encoded) + len(payload), len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


class _CutResponse(Response):
    """Sends headers and part of the body, then drops the connection."""

    def __init__(self, content: dict[str, Any]) -> None:
        super().__init__(json.dumps(content).encode(), media_type="application/json")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[:10], "more_body": True})
        raise SimulatedFailure("connection reset mid-body")


# -- error bodies ------------------------------------------------------------------------------
def openai_error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_exceeded"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def openai_error(
    status: int,
    message: str,
    type_: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers={**SIM_HEADERS, **(headers or {})})


def anthropic_error(
    status: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"type": "error", "error": {"type": type_, "message": message}}
    return JSONResponse(body, status_code=status, headers={**SIM_HEADERS, **(headers or {})})


_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def gemini_error(status: int, message: str, retry_after: str | None = None) -> JSONResponse:
    """A `google.rpc.Status` body; a 429 carries its wait as a RetryInfo detail."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _GEMINI_STATUS.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT"),
    }
    if status == 429 and retry_after:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after}s"}
        ]
    return JSONResponse({"error": error}, status_code=status, headers=SIM_HEADERS)


_BEDROCK_CODES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def bedrock_error(status: int, message: str, code: str | None = None) -> JSONResponse:
    """An AWS JSON error: the code in `x-amzn-ErrorType`, the message in the body."""
    code = code or _BEDROCK_CODES.get(
        status, "InternalServerException" if status >= 500 else "ValidationException"
    )
    headers = {
        **SIM_HEADERS,
        "x-amzn-errortype": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-requestid": str(uuid.uuid4()),
    }
    return JSONResponse({"message": message}, status_code=status, headers=headers)
