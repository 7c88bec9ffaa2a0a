"""Per-key rate limits: requests and tokens per minute, enforced at admission.

Fixed one-minute windows (UTC minutes) counted in UsageTable (store/ratelimits.py), so every
router instance sees the same count. A request is counted with its estimated tokens (the
planner's input estimate plus the output it asks for); the estimate is replaced by the real
usage when the request ends. A refused request gets 429 `rate_limit_exceeded` with
`Retry-After` set to the seconds left in the minute.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from modelyard.auth.keys import KeyRecord
from modelyard.errors import RateLimited
from modelyard.store.ratelimits import WINDOW_RETENTION_SECONDS, RateLimitStore


@dataclass(frozen=True, slots=True)
class RateTicket:
    """What admission counted, so that the request's end can correct the token count."""

    scope: str
    window: str
    tokens: int


class RateLimiter:
    def __init__(self, store: RateLimitStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def admit(self, key: KeyRecord, tokens: int) -> RateTicket | None:
        """Count the request in the key's minute or refuse it; None when the key has no limit."""
        if key.rpm is None and key.tpm is None:
            return None
        now = self.clock()
        minute_start = int(now // 60) * 60
        window = "MIN#" + time.strftime("%Y-%m-%dT%H:%M", time.gmtime(minute_start))
        scope = f"KEY#{key.key_id}"
        expires = minute_start + 60 + WINDOW_RETENTION_SECONDS
        if not self.store.take(scope, window, tokens, key.rpm, key.tpm, expires):
            retry_after = max(1, math.ceil(minute_start + 60 - now))
            limits = [f"{key.rpm} requests" if key.rpm is not None else ""]
            limits.append(f"{key.tpm} tokens" if key.tpm is not None else "")
            raise RateLimited(
                f"rate limit of {' and '.join(x for x in limits if x)} per minute reached "
                f"for this key (this request: about {tokens} tokens)",
                code="rate_limit_exceeded",
                headers={"retry-after": str(retry_after)},
            )
        return RateTicket(scope, window, tokens)

    def settle(self, ticket: RateTicket, actual_tokens: int) -> None:
        """Replace the admission's token estimate by the request's real usage."""
        if actual_tokens != ticket.tokens:
            self.store.add_tokens(ticket.scope, ticket.window, actual_tokens - ticket.tokens)
