"""A harness that sees what a frozen Lambda sandbox would lose.

Behind the Lambda Web Adapter an invocation ends with the response's last byte; whatever the
router has not handed off by then may never happen. `HandoffGateway` serves a gateway of its
own on uvicorn (the stack's AWS and upstreams) with two recorders on one sequence:

- the publisher notes the moment each usage event was handed off (SQS accepted it, or the
  direct ledger write returned);
- an ASGI wrapper notes, per response, the send that carried its last byte: for a body with a
  Content-Length the one that completes that length, otherwise the last one with any bytes.

`handed_off_first(request_id)` says whether the first came before the second.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.api.app import create_app
from modelyard.local.stack import ServerThread, free_port
from modelyard.settings import get_settings
from modelyard.usage.events import UsageEvent
from modelyard.usage.publisher import UsagePublisher
from modelyard.wiring import build_gateway


class HandoffLog:
    """Positions on one sequence: usage hand-offs and responses' last bytes, by request id."""

    def __init__(self) -> None:
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self.handed_off: dict[str, int] = {}
        self.last_byte: dict[str, int] = {}

    def note(self, book: dict[str, int], request_id: str) -> None:
        with self._lock:
            book[request_id] = next(self._seq)

    def handed_off_first(self, request_id: str) -> bool:
        handed, last = self.handed_off.get(request_id), self.last_byte.get(request_id)
        return handed is not None and last is not None and handed < last


class RecordingPublisher:
    """The real publisher; notes each event once `publish` has returned (it was handed off)."""

    def __init__(self, inner: UsagePublisher, log: HandoffLog) -> None:
        self.inner = inner
        self.log = log

    async def publish(self, event: UsageEvent) -> str:
        outcome = await self.inner.publish(event)
        self.log.note(self.log.handed_off, event.request_id)
        return outcome

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LastByteRecorder:
    """ASGI wrapper noting the send that carries each response's last byte."""

    def __init__(self, app: ASGIApp, log: HandoffLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = ""
        length: int | None = None
        sent = 0

        async def recording(message: Message) -> None:
            nonlocal request_id, length, sent
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                request_id = headers.get(b"x-modelyard-request-id", b"").decode()
                declared = headers.get(b"content-length")
                length = int(declared) if declared is not None else None
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                sent += len(body)
                last = sent == length if length is not None else bool(body)
                if last and request_id:
                    self.log.note(self.log.last_byte, request_id)
            await send(message)

        await self.app(scope, receive, recording)


class HandoffGateway:
    """A gateway of its own over the stack's AWS, served with both recorders."""

    def __init__(self, publisher: UsagePublisher | None = None) -> None:
        """`publisher`: the one to record through (default: the gateway's own)."""
        self.log = HandoffLog()
        self.gateway = build_gateway(get_settings())
        inner = publisher or self.gateway.publisher
        self.gateway.publisher = RecordingPublisher(inner, self.log)  # type: ignore[assignment]
        self.app = create_app(gateway=self.gateway)
        port = free_port()
        self.server = ServerThread(LastByteRecorder(self.app, self.log), port).start()
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def stop(self) -> None:
        self.server.stop()
