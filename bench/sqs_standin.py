"""A STAND-IN for Amazon SQS in the HTTP benchmark: it answers `SendMessage` and
`SendMessageBatch` in SQS's JSON protocol (what botocore speaks to SQS) and stores nothing.

    python -m uvicorn sqs_standin:app --app-dir bench --port N

Real SQS runs on AWS's machines, so its work is not on the gateway's bill; moto's SQS, on
this machine, costs milliseconds of CPU per message on the same two cores as the gateway and
the load generator, and bounds the figure. Against this stand-in the gateway still does all of
its own publishing work (serialising the event, signing the request with SigV4, the
HTTP round trip, parsing the answer); only the queue's side is cheap. `GET /_standin/count`
says how many messages arrived, and in how many calls, so the benchmark can check that every
answer was published. A plain ASGI callable: a framework would add its own cost to this
process's share of the CPU.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

received = 0
calls = 0


def _entry(message: dict[str, Any]) -> dict[str, str]:
    return {
        "MessageId": str(uuid.uuid4()),
        "MD5OfMessageBody": hashlib.md5(message["MessageBody"].encode()).hexdigest(),
    }


def answer(target: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for one SQS JSON-protocol call."""
    global received, calls
    calls += 1
    if target == "AmazonSQS.SendMessage":
        received += 1
        return 200, _entry(request)
    if target == "AmazonSQS.SendMessageBatch":
        entries = request.get("Entries", [])
        received += len(entries)
        successful = [{"Id": e["Id"], **_entry(e)} for e in entries]
        return 200, {"Successful": successful, "Failed": []}
    return 400, {"__type": "com.amazonaws.sqs#InvalidAction", "message": f"not here: {target}"}


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "GET" and scope["path"] == "/_standin/count":
        status, payload = 200, {"received": received, "calls": calls}
    else:
        headers = dict(scope["headers"])
        target = headers.get(b"x-amz-target", b"").decode()
        status, payload = answer(target, json.loads(await _body(receive) or b"{}"))
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/x-amz-json-1.0"),
                (b"content-length", str(len(body)).encode()),
                (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
