"""Per-key rate limits: requests and tokens per minute, enforced at admission.

Fixed one-minute windows (UTC minutes) counted in UsageTable (store/ratelimits.py), so every
router instance sees the same count. A request is counted with its estimated tokens (the
planner's input estimate plus the output it asks for); the estimate is replaced by the real
usage when the request ends. A refused request gets 429 `rate_limit_exceeded` with
`Retry-After` set to the seconds left in the minute.

Every answer to a limited key says where its window stands in OpenAI's headers
(`rate_limit_headers`): `x-ratelimit-limit-requests`, `-remaining-requests` and
`-reset-requests` (and the `-tokens` three), each pair only for a limit the key has. The
remaining figures are the window's after this request was counted (its token estimate, as
admission counted it); the reset is the time left in the window, in OpenAI's duration format
(`1s`, `6m0s`, `20ms`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from modelyard.auth.keys import KeyRecord
from modelyard.errors import RateLimited
from modelyard.store.ratelimits import WINDOW_RETENTION_SECONDS, RateLimitStore, WindowCount

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class RateTicket:
    """What admission counted, so that the request's end can correct the token count, and
    where the window stood then, for the response's headers."""

    scope: str
    window: str
    tokens: int
    rpm: int | None
    tpm: int | None
    #: the window's counts with this request in them (a refusal's: without it)
    counted: WindowCount
    #: when the window ends (epoch seconds)
    resets_at: float


class RateLimiter:
    def __init__(self, store: RateLimitStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def admit(self, key: KeyRecord, tokens: int) -> RateTicket | None:
        """Count the request in the key's minute or refuse it; None when the key has no limit."""
        if key.rpm is None and key.tpm is None:
            return None
        now = self.clock()
        minute_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        window = "MIN#" + time.strftime("%Y-%m-%dT%H:%M", time.gmtime(minute_start))
        scope = f"KEY#{key.key_id}"
        resets_at = minute_start + WINDOW_SECONDS
        expires = resets_at + WINDOW_RETENTION_SECONDS
        counted = self.store.take(scope, window, tokens, key.rpm, key.tpm, expires)
        if counted is None:
            refused = RateTicket(
                scope, window, tokens, key.rpm, key.tpm, self.store.count(scope, window), resets_at
            )
            limits = [f"{key.rpm} requests" if key.rpm is not None else ""]
            limits.append(f"{key.tpm} tokens" if key.tpm is not None else "")
            raise RateLimited(
                f"rate limit of {' and '.join(x for x in limits if x)} per minute reached "
                f"for this key (this request: about {tokens} tokens)",
                code="rate_limit_exceeded",
                headers={
                    "retry-after": str(max(1, math.ceil(resets_at - now))),
                    **rate_limit_headers(refused, now),
                },
            )
        return RateTicket(scope, window, tokens, key.rpm, key.tpm, counted, resets_at)

    def settle(self, ticket: RateTicket, actual_tokens: int) -> None:
        """Replace the admission's token estimate by the request's real usage."""
        if actual_tokens != ticket.tokens:
            self.store.add_tokens(ticket.scope, ticket.window, actual_tokens - ticket.tokens)


def rate_limit_headers(ticket: RateTicket | None, now: float | None = None) -> dict[str, str]:
    """OpenAI's `x-ratelimit-*` headers for a limited key's request ({} without a limit)."""
    if ticket is None:
        return {}
    reset = duration(max(0.0, ticket.resets_at - (time.time() if now is None else now)))
    headers = {}
    for unit, limit, used in (
        ("requests", ticket.rpm, ticket.counted.requests),
        ("tokens", ticket.tpm, ticket.counted.tokens),
    ):
        if limit is not None:
            headers[f"x-ratelimit-limit-{unit}"] = str(limit)
            headers[f"x-ratelimit-remaining-{unit}"] = str(max(0, limit - used))
            headers[f"x-ratelimit-reset-{unit}"] = reset
    return headers


def duration(seconds: float) -> str:
    """A duration as OpenAI's headers write it (Go's notation): `20ms`, `1.5s`, `6m0s`."""
    millis = round(seconds * 1000)
    if millis < 1000:
        return f"{millis}ms"
    minutes, rest = divmod(millis, 60_000)
    text = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{minutes}m{text}" if minutes else text
