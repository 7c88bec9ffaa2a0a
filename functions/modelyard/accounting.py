"""Accounting: each request's one usage event, and the `modelyard` facts its answer carries.

Every request that reached an upstream is recorded exactly once, whatever its end: the usage
event is handed off (usage.publisher) and the request's admission settled with what it used.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from modelyard.admission import Admitter
from modelyard.auth.ratelimits import rate_limit_headers
from modelyard.exchange import RequestContext
from modelyard.pricing.invoices import invoices, provider_cost
from modelyard.pricing.prices import TokenUsage, format_usd
from modelyard.routing.planner import Candidate, RoutePlan
from modelyard.usage.events import UsageEvent
from modelyard.usage.publisher import UsagePublisher


class Accountant:
    def __init__(self, publisher: UsagePublisher, admitter: Admitter) -> None:
        self.publisher = publisher
        self.admitter = admitter

    async def record(self, ctx: RequestContext, event: UsageEvent) -> None:
        """Publish the request's one usage event and settle its admission."""
        await self.publisher.publish(event)
        await self.admitter.settle(ctx, event.input_tokens + event.output_tokens, event.cost_usd)

    async def record_failure(self, ctx: RequestContext, plan: RoutePlan) -> None:
        """No answer: recorded as failed if an upstream was reached, else released."""
        if not ctx.execution.reached_upstream:
            await self.admitter.release(ctx)
            return
        last = ctx.execution.attempts[-1] if ctx.execution.attempts else None
        candidate = next(
            (c for c in plan.candidates if last and c.model.id == last.model), plan.candidates[0]
        )
        await self.record(ctx, self.event(ctx, plan, candidate, "failed", TokenUsage(), Decimal(0)))

    def event(
        self,
        ctx: RequestContext,
        plan: RoutePlan,
        candidate: Candidate,
        status: str,
        usage: TokenUsage,
        cost: Decimal,
        ttft_ms: int | None = None,
        estimated: bool = False,
    ) -> UsageEvent:
        served = (candidate.model.id, usage, estimated) if status != "failed" else None
        attempts = invoices(ctx.execution.attempts, plan.candidates, served, ctx.input_estimate)
        return UsageEvent(
            request_id=ctx.request_id,
            tenant=ctx.key.tenant,
            key_id=ctx.key.key_id,
            created_at=ctx.created_at.isoformat(),
            day=ctx.day,
            status=status,  # type: ignore[arg-type]
            task=plan.task,
            policy=plan.policy.name if plan.policy else None,
            model=candidate.model.id,
            provider=candidate.provider.id,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=cost,
            provider_cost_usd=provider_cost(attempts),
            usage_estimated=estimated,
            price_version=candidate.price.version,
            latency_ms=round((time.monotonic() - ctx.started) * 1000),
            ttft_ms=ttft_ms,
            attempts=attempts,
            cache=ctx.cache_status,  # type: ignore[arg-type]
        )


def meta(
    ctx: RequestContext, plan: RoutePlan, candidate: Candidate, cost: Decimal
) -> dict[str, Any]:
    """The answer's `modelyard` object."""
    facts = {
        "request_id": ctx.request_id,
        "task": plan.task,
        "model": candidate.model.id,
        "provider": candidate.provider.id,
        "attempts": [a.as_dict() for a in ctx.execution.attempts],
        "cost_usd": format_usd(cost),
        "route_reason": plan.reason,
    }
    if ctx.cache_status is not None:
        facts["cache"] = ctx.cache_status
    return facts


def headers(ctx: RequestContext, plan: RoutePlan, candidate: Candidate) -> dict[str, str]:
    """The answer's `x-modelyard-*` headers."""
    values = {
        "x-modelyard-request-id": ctx.request_id,
        "x-modelyard-task": plan.task,
        "x-modelyard-model": candidate.model.id,
        "x-modelyard-provider": candidate.provider.id,
        "x-modelyard-attempts": str(
            sum(1 for a in ctx.execution.attempts if a.status != "skipped")
        ),
        "x-modelyard-route-reason": header_safe(plan.reason),
        **rate_limit_headers(ctx.rate),
    }
    if ctx.cache_status is not None:
        values["x-modelyard-cache"] = ctx.cache_status
    if ctx.admission is not None and ctx.admission.warnings:
        values["x-modelyard-budget-warning"] = header_safe("; ".join(ctx.admission.warnings))
    return values


def header_safe(text: str) -> str:
    return text.encode("ascii", "replace").decode()[:300]
