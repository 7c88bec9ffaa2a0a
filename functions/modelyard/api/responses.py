"""A JSON answer that reaches the client before its usage is recorded.

The body goes out whole (with its Content-Length, so the client has all of it), then the
request's usage event is published, and only then does the response end. Under the Lambda Web
Adapter the invocation lasts until the response ends, so the event is never lost to a frozen
sandbox; the client never waits for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Coroutine
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

logger = logging.getLogger("modelyard.api")


class AccountedResponse(Response):
    media_type = "application/json"

    def __init__(
        self,
        body: dict[str, Any],
        headers: dict[str, str],
        accounting: Coroutine[Any, Any, None] | None,
    ) -> None:
        super().__init__(json.dumps(body, separators=(",", ":")), headers=headers)
        self.accounting = accounting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        try:
            if self.accounting is not None:
                await self.accounting
        except Exception:  # the body is out; the publisher already tried its fallback
            logger.exception("recording usage failed after the response was sent")
        finally:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
