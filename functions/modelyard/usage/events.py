"""The usage event: one per request that reached an upstream, the unit of accounting."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from modelyard.store.budgets import Reservation


class AttemptRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    provider: str
    status: str
    error_type: str | None = None
    latency_ms: int = 0
    #: what the provider invoices for this attempt (pricing.invoices); None: no call made
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: Decimal | None = None
    usage_estimated: bool = False


class UsageEvent(BaseModel):
    """What the router publishes and the aggregator turns into a ledger item and counters.

    `cost_usd` is exact (Decimal, serialised as a string); `usage_estimated` says the token
    counts are the gateway's estimate because the provider reported none (a cut stream).
    `cache` is the response cache's part: `hit` (answered from the cache: no upstream, cost 0,
    `saved_usd` what the original request cost), `miss` (looked up, not found), `bypass`
    (`no-cache`: not looked up, refreshed), None where caching did not apply.
    """

    model_config = ConfigDict(extra="ignore")

    version: Literal[1] = 1
    request_id: str
    tenant: str
    key_id: str
    created_at: str  # ISO 8601, UTC
    day: str  # YYYY-MM-DD (UTC), the day the request is billed to
    status: Literal["ok", "failed", "partial", "cancelled"]
    stream: bool = False
    task: str | None = None
    policy: str | None = None
    model: str | None = None  # the model that served it (or the last one tried)
    provider: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    usage_estimated: bool = False
    cost_usd: Decimal = Decimal(0)
    #: what the providers invoice for every attempt (hedges and abandoned attempts included,
    #: partly estimated): the operator's cost, apart from the tenant's `cost_usd`
    provider_cost_usd: Decimal = Decimal(0)
    price_version: str | None = None
    latency_ms: int = 0
    ttft_ms: int | None = None
    attempts: list[AttemptRecord] = Field(default_factory=list)
    cache: Literal["hit", "miss", "bypass"] | None = None
    saved_usd: Decimal = Decimal(0)
    #: budget reservations the aggregator settles with `cost_usd` as it ledgers the event: an
    #: asynchronous job's (its router has gone); the router settles its own requests' itself
    reservations: list[Reservation] = Field(default_factory=list)

    @property
    def month(self) -> str:
        return self.day[:7]
