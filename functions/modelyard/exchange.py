"""One request's facts as they accumulate, and the two shapes of the gateway's answer."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelyard.auth.budgets import Admission
from modelyard.auth.keys import KeyRecord
from modelyard.auth.ratelimits import RateTicket
from modelyard.cache import policy as cache_policy
from modelyard.resilience.executor import Execution


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex


@dataclass(slots=True)
class ChatResponse:
    body: dict[str, Any]
    headers: dict[str, str]
    #: the usage event still to publish: whoever sends the body awaits it right after (see
    #: api.responses.AccountedResponse), so accounting never delays the answer
    accounting: Coroutine[Any, Any, None] | None = None
    #: the provider's own answer to a request passed through natively (providers.native),
    #: with the `modelyard` facts; the door sends it instead of translating `body`
    native: dict[str, Any] | None = None

    async def settle(self) -> None:
        """Record the request (once), for callers that do not send the body themselves."""
        accounting, self.accounting = self.accounting, None
        if accounting is not None:
            await accounting


@dataclass(slots=True)
class StreamResponse:
    chunks: AsyncIterator[bytes]
    headers: dict[str, str]
    #: the chunks are the upstream's own events, framed (providers.native), not chat chunks
    native: bool = False


@dataclass
class RequestContext:
    """One request's facts as they accumulate, for the response and the usage event."""

    request_id: str
    key: KeyRecord
    started: float = field(default_factory=time.monotonic)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    execution: Execution = field(default_factory=Execution)
    admission: Admission | None = None
    #: what the key's rate limit counted at admission (None: no limit)
    rate: RateTicket | None = None
    #: the response cache's decision (None: caching does not apply) and its outcome
    cache: cache_policy.CacheDecision | None = None
    cache_status: str | None = None
    #: the planner's estimate of the prompt's tokens (prices attempts abandoned in flight)
    input_estimate: int = 0

    @property
    def day(self) -> str:
        return self.created_at.strftime("%Y-%m-%d")
