"""A JSON answer whose usage is recorded before its last byte leaves.

Behind the Lambda Web Adapter an invocation ends with the response's last byte (for a body
with a Content-Length, the moment the client has all of it), and the sandbox may be frozen
or reclaimed then: anything still in flight is lost. So the request's usage event is handed
off first (SQS accepted it, or the router wrote the ledger itself) and only then does the
body go out. The client waits for one SendMessageBatch (batched with its neighbours'); the
ledger never waits for a sandbox that may not come back.
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

    async def settle(self) -> None:
        """Record the request (once), before anything else is done with the answer."""
        accounting, self.accounting = self.accounting, None
        try:
            if accounting is not None:
                await accounting
        except Exception:  # the publisher already tried its fallback; the answer still goes
            logger.exception("recording usage failed before the response was sent")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.settle()
        await super().__call__(scope, receive, send)
