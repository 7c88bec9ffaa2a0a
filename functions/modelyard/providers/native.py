"""Native pass-through: a request that arrived in a provider's own format goes to that
provider as the client sent it, and its answer comes back as the provider wrote it.

A `/v1/messages` request routed to Anthropic, and a `/v1/responses` request routed to OpenAI,
would lose to a translation whatever the chat body cannot say (thinking blocks, server and
hosted tools, citations, reasoning items). So the door keeps the client's request beside the
chat body it routes (`carry`); an adapter whose provider speaks that dialect (the catalog's
`dialects`) sends it upstream with only the model name changed and returns the answer in
`ChatResult.native`, a stream as the upstream's own events. Every other candidate is served
from the chat body as before. The chat body and usage still drive routing, pricing,
accounting and the cache; a cache hit is served in the door's translated form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: the gateway-private field of the chat body that holds the client's own request
NATIVE = "modelyard_native"
#: the request formats some providers speak natively (a provider's `dialects`)
MESSAGES = "anthropic-messages"
RESPONSES = "openai-responses"


def carry(body: dict[str, Any], dialect: str, request: Mapping[str, Any], **more: Any) -> None:
    """Keep `request` (in `dialect`, without the gateway's own `modelyard` options) beside the
    chat `body` that routes it; `more` are facts the planner reads (providers.parameters)."""
    native = {k: v for k, v in request.items() if k != "modelyard"}
    body[NATIVE] = {"dialect": dialect, "body": native, **more}


def native_request(body: Mapping[str, Any], dialect: str, dialects: tuple[str, ...]) -> Any:
    """The client's own request, if it is in `dialect` and the provider speaks it; else None."""
    native = body.get(NATIVE)
    if dialect in dialects and isinstance(native, dict) and native.get("dialect") == dialect:
        return dict(native["body"])
    return None


def is_private(name: str) -> bool:
    """A chat body field the gateway adds for itself: never forwarded, never taken from a
    client (the `modelyard` options are the client's own)."""
    return name.startswith("modelyard_")


def sse_frame(kind: str, data: bytes) -> bytes:
    """An SSE frame named `kind` around an event's JSON as the upstream sent it."""
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


def event_frame(event: Mapping[str, Any]) -> bytes:
    """An event as an SSE frame named by its `type` (Anthropic's and the Responses API's)."""
    return sse_frame(str(event["type"]), json.dumps(event, separators=(",", ":")).encode())
