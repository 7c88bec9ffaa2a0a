"""Admission: what a request may spend before it reaches an upstream, and the settling after.

A request counts against its key's per-minute limits (auth.ratelimits) and reserves the most
it can cost (pricing.ceiling) in every budget of its key and tenant (auth.budgets); both are
settled with what it really used once it is recorded, or given back when it is refused
before any upstream call.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from modelyard.auth.budgets import BudgetGuard
from modelyard.auth.ratelimits import RateLimiter
from modelyard.exchange import RequestContext
from modelyard.pricing.ceiling import worst_case_cost
from modelyard.routing.planner import RoutePlan
from modelyard.store.config import ConfigRepository
from modelyard.usage.metrics import emit_budget_use


class Admitter:
    def __init__(
        self,
        config: ConfigRepository,
        budgets: BudgetGuard | None,
        rate_limits: RateLimiter | None,
    ) -> None:
        self.config = config
        #: budget admission; None where no budget store is wired
        self.budgets = budgets
        #: per-key requests and tokens per minute; None where no limit store is wired
        self.rate_limits = rate_limits

    async def rate_limit(self, ctx: RequestContext, tokens: int) -> None:
        """Count the request against its key's per-minute limits (429 when spent)."""
        limited = ctx.key.rpm is not None or ctx.key.tpm is not None
        if self.rate_limits is not None and limited:
            ctx.rate = await asyncio.to_thread(self.rate_limits.admit, ctx.key, tokens)

    async def reserve(
        self,
        ctx: RequestContext,
        plan: RoutePlan,
        body: dict[str, Any],
        hold_seconds: int | None = None,
    ) -> None:
        """Reserve the most the request can cost in every budget of its key and tenant."""
        if self.budgets is None:
            return
        scopes = [(f"KEY#{ctx.key.key_id}", ctx.key.budget)] if ctx.key.budget else []
        tenant_budget = await self.config.tenant_budget_async(ctx.key.tenant)
        if tenant_budget is not None:
            scopes.append((f"TENANT#{ctx.key.tenant}", tenant_budget))
        if not scopes:
            return
        estimate = worst_case_cost(plan.candidates, body)
        ctx.admission = await asyncio.to_thread(
            self.budgets.admit, ctx.request_id, scopes, estimate, ctx.created_at, hold_seconds
        )
        emit_budget_use(ctx.admission.used)

    async def settle(self, ctx: RequestContext, tokens: int, cost: Decimal) -> None:
        """The request is recorded: its rate ticket and reservations take what it used."""
        if ctx.rate is not None and self.rate_limits is not None:
            await asyncio.to_thread(self.rate_limits.settle, ctx.rate, tokens)
        if ctx.admission is not None and self.budgets is not None:
            await asyncio.to_thread(self.budgets.settle, ctx.admission, cost)

    async def release(self, ctx: RequestContext) -> None:
        """A request refused before any upstream call: its reservations and the tokens its
        rate ticket counted are given back (the request itself still counts)."""
        await self.settle(ctx, 0, Decimal(0))
