"""The gateway's request logic: authenticate, route, execute, price, account.

Transport-free: the API layer hands it parsed bodies and headers and turns what it returns
into HTTP. Dependencies come in through the constructor, so tests build one with fakes or
with moto-backed repositories and no patching.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from modelyard.auth.budgets import Admission, BudgetGuard
from modelyard.auth.keys import KeyRecord, bearer_token, hash_key
from modelyard.auth.ratelimits import RateLimiter, RateTicket, rate_limit_headers
from modelyard.cache import policy as cache_policy
from modelyard.cache.replay import replay
from modelyard.errors import (
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from modelyard.jobs import JOB_HOLD_SECONDS, JobService, require_jobs
from modelyard.pricing.ceiling import worst_case_cost
from modelyard.pricing.invoices import invoices, provider_cost
from modelyard.pricing.prices import TokenUsage, cost_usd, format_usd
from modelyard.providers.base import ChatResult
from modelyard.resilience.executor import Execution, FallbackExecutor
from modelyard.resilience.idempotency import IdempotencyGuard
from modelyard.resilience.shared_breaker import SharedBreaker
from modelyard.routing.listing import model_list, model_object
from modelyard.routing.planner import (
    Candidate,
    RequestFeatures,
    RoutePlan,
    RouteRequest,
    embedding_tokens,
    plan_embedding,
    plan_route,
)
from modelyard.store.config import ConfigRepository
from modelyard.store.health import HealthRepository
from modelyard.store.responses import CachedResponse, ResponseCacheStore
from modelyard.store.usage import UsageRepository
from modelyard.stream_relay import StreamRelay, frames
from modelyard.usage.events import UsageEvent
from modelyard.usage.metrics import emit_budget_use
from modelyard.usage.publisher import UsagePublisher

logger = logging.getLogger("modelyard.gateway")


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex


@dataclass(slots=True)
class ChatResponse:
    body: dict[str, Any]
    headers: dict[str, str]
    #: the usage event still to publish: whoever sends the body awaits it right after (see
    #: api.responses.AccountedResponse), so accounting never delays the answer
    accounting: Coroutine[Any, Any, None] | None = None

    async def settle(self) -> None:
        """Record the request (once), for callers that do not send the body themselves."""
        accounting, self.accounting = self.accounting, None
        if accounting is not None:
            await accounting


@dataclass(slots=True)
class StreamResponse:
    chunks: AsyncIterator[bytes]
    headers: dict[str, str]


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


class Gateway:
    def __init__(
        self,
        config: ConfigRepository,
        publisher: UsagePublisher,
        executor: FallbackExecutor,
        pepper: str,
        usage: UsageRepository,
        health: HealthRepository,
        jobs: JobService | None = None,
        budgets: BudgetGuard | None = None,
        idempotency: IdempotencyGuard | None = None,
        shared_breaker: SharedBreaker | None = None,
        rate_limits: RateLimiter | None = None,
        response_cache: ResponseCacheStore | None = None,
    ) -> None:
        #: exact-match answers per tenant (modelyard.cache); None turns caching off
        self.response_cache = response_cache
        #: cache writes in flight (off the response's path); kept so they are not collected
        self.cache_writes: set[asyncio.Task[None]] = set()
        #: per-key requests and tokens per minute; None where no limit store is wired
        self.rate_limits = rate_limits
        #: the executor's breaker as seen by every instance; None keeps it local
        self.shared_breaker = shared_breaker
        #: `Idempotency-Key` replays; None where not wired
        self.idempotency = idempotency
        self.config = config
        #: budget admission; None where no budget store is wired
        self.budgets = budgets
        #: asynchronous jobs (`Prefer: respond-async`); None where they are not wired
        self.jobs = jobs
        self.usage = usage
        self.health = health
        self.publisher = publisher
        self.executor = executor
        self.pepper = pepper

    async def authenticate(
        self, authorization: str | None, api_key: str | None = None
    ) -> KeyRecord:
        secret = bearer_token(authorization) or (api_key or "").strip() or None
        if not secret:
            raise AuthenticationFailed(
                "Missing API key: send it as 'Authorization: Bearer <key>'", code="missing_api_key"
            )
        if len(secret) > 256:
            raise AuthenticationFailed("Incorrect API key provided")
        key_hash = hash_key(secret, self.pepper)
        record = await self.config.key_async(key_hash)
        if record is None or record.revoked or not hmac.compare_digest(record.key_hash, key_hash):
            raise AuthenticationFailed("Incorrect API key provided")
        if record.expired():
            raise AuthenticationFailed("API key expired", code="expired_api_key")
        return record

    async def models(self, key: KeyRecord, name: str | None = None) -> dict[str, Any]:
        """The key's models and routes (routing.listing), or the one `name` resolves to."""
        catalog = await self.config.catalog_async()
        allowed = key.model_filter(catalog)
        if name is None:
            return model_list(catalog, allowed)
        return model_object(catalog, allowed, name)

    async def start_job(
        self, body: dict[str, Any], key: KeyRecord, request_id: str, header_policy: str | None
    ) -> str:
        """Plan the request and hand it to the durable path; returns the job id.

        The job's worst-case cost is reserved in its budgets as for any request (429 when they
        cannot take it); its usage event settles the reservations once the job has ended.
        """
        jobs = require_jobs(self.jobs)
        plan, features = await self.plan(body, key, header_policy)
        ctx = RequestContext(request_id, key)
        # a job counts against the key's rate limits like any request (its estimate stays)
        estimate = features.estimated_input_tokens + (features.max_output_tokens or 0)
        await self._rate_limit(ctx, estimate)
        try:
            await self._admit(ctx, plan, body, hold_seconds=JOB_HOLD_SECONDS)
            reservations = ctx.admission.reservations if ctx.admission is not None else []
            return await asyncio.to_thread(jobs.start, plan, body, key, request_id, reservations)
        except BaseException:
            await self._release(ctx)
            raise

    async def tenant_usage(
        self, key: KeyRecord, since: str | None, until: str | None
    ) -> dict[str, Any]:
        """The calling key's own tenant's spend (never another tenant's)."""
        for name, value in (("since", since), ("until", until)):
            if value is not None and not _is_date(value):
                raise InvalidRequest(f"{name} must be a date (YYYY-MM-DD)", param=name)
        return await asyncio.to_thread(self.usage.tenant_usage, key.tenant, since, until)

    async def feedback(self, key: KeyRecord, request_id: str, score: Decimal) -> dict[str, Any]:
        """Record a user's rating of a request their own tenant made (once per request)."""
        recorded = await asyncio.to_thread(
            self.usage.record_feedback, key.tenant, request_id, score
        )
        if recorded is None:
            raise NotFound(
                f"no request {request_id!r} for this tenant",
                param="request_id",
                code="request_not_found",
            )
        return recorded

    async def plan(
        self, body: dict[str, Any], key: KeyRecord, header_policy: str | None = None
    ) -> tuple[RoutePlan, RequestFeatures]:
        catalog = await self.config.catalog_async()
        if self.shared_breaker is not None:
            self.shared_breaker.maybe_refresh()
        observed = await self.health.observations_async()
        route = RouteRequest.from_body(body, header_policy)
        features = RequestFeatures.from_chat(body)
        plan = plan_route(
            route,
            features,
            catalog,
            allowed=key.model_filter(catalog),
            healthy=self.executor.breaker.allows,
            health=observed.health,
            feedback=observed.feedback,
            today=datetime.now(UTC).strftime("%Y-%m-%d"),
        )
        if not plan.candidates:
            raise PermissionDenied("no model this key may use can serve the request")
        return plan, features

    async def chat(
        self,
        body: dict[str, Any],
        key: KeyRecord,
        request_id: str,
        header_policy: str | None = None,
        cache_control: str | None = None,
    ) -> ChatResponse | StreamResponse:
        ctx = RequestContext(request_id, key)
        plan, features = await self.plan(body, key, header_policy)
        ctx.input_estimate = features.estimated_input_tokens
        await self._rate_limit(
            ctx, features.estimated_input_tokens + (features.max_output_tokens or 0)
        )
        hit = await self._cache_lookup(ctx, body, cache_control, header_policy)
        if hit is not None:
            return await self._serve_hit(ctx, plan, body, hit)
        try:
            await self._admit(ctx, plan, body)
        except GatewayError:
            await self._release(ctx)
            raise
        if body.get("stream"):
            return await self._stream(body, ctx, plan, features)
        return await self._complete(
            ctx, plan, self.executor.chat(plan.candidates, body, ctx.execution, plan.hedge)
        )

    async def embeddings(
        self, body: dict[str, Any], key: KeyRecord, request_id: str
    ) -> ChatResponse:
        """An OpenAI embeddings request, routed to an embedding model and accounted like chat."""
        ctx = RequestContext(request_id, key)
        catalog = await self.config.catalog_async()
        plan = plan_embedding(
            RouteRequest.from_body(body),
            catalog,
            allowed=key.model_filter(catalog),
            healthy=self.executor.breaker.allows,
            today=datetime.now(UTC).strftime("%Y-%m-%d"),
        )
        await self._rate_limit(ctx, embedding_tokens(body.get("input")))
        return await self._complete(
            ctx, plan, self.executor.embed(plan.candidates, body, ctx.execution)
        )

    async def _complete(
        self,
        ctx: RequestContext,
        plan: RoutePlan,
        execution: Awaitable[tuple[Candidate, ChatResult]],
    ) -> ChatResponse:
        """A non-streaming answer: priced, published, with the `modelyard` facts attached."""
        try:
            candidate, result = await execution
        except GatewayError:
            await self._publish_failure(ctx, plan)
            raise
        cost = cost_usd(result.usage, candidate.price)
        meta = self._meta(ctx, plan, candidate, cost)
        response = result.body
        self._cache_store(ctx, candidate, dict(response), result.usage, cost)
        response["modelyard"] = meta
        event = self._event(ctx, plan, candidate, "ok", result.usage, cost)
        headers = self._headers(ctx, plan, candidate)
        headers["x-modelyard-cost-usd"] = meta["cost_usd"]
        return ChatResponse(response, headers, self._account(ctx, event))

    # -- streaming -----------------------------------------------------------------------------
    async def _stream(
        self, body: dict[str, Any], ctx: RequestContext, plan: RoutePlan, features: RequestFeatures
    ) -> StreamResponse:
        try:
            start = await self.executor.open_stream(
                plan.candidates, body, ctx.execution, plan.hedge
            )
        except GatewayError:
            await self._publish_failure(ctx, plan)
            raise
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        book = _StreamBook(self, ctx, plan, start.candidate)
        relay = StreamRelay(start, book, include_usage, features.estimated_input_tokens)
        return StreamResponse(relay, self._headers(ctx, plan, start.candidate))

    # -- response cache (modelyard.cache) ------------------------------------------------------
    async def _cache_lookup(
        self,
        ctx: RequestContext,
        body: dict[str, Any],
        cache_control: str | None,
        header_policy: str | None,
    ) -> CachedResponse | None:
        """Decide whether the cache applies; if it may answer, one GetItem. Never raises."""
        if self.response_cache is None:
            return None
        ctx.cache = cache_policy.decide(
            ctx.key.tenant, body, ctx.key.cache, cache_control, header_policy
        )
        if ctx.cache is None:
            return None
        ctx.cache_status = ctx.cache.header
        if not ctx.cache.read:
            return None
        try:
            entry = await asyncio.to_thread(
                self.response_cache.get, ctx.key.tenant, ctx.cache.key, ctx.cache.max_age
            )
        except Exception:
            logger.exception("response cache lookup failed; answering from upstream")
            return None
        if entry is None:
            return None
        # a key that may not use the model that answered (another key's entry) misses
        allowed = ctx.key.model_filter(await self.config.catalog_async())
        return entry if allowed(entry.model) else None

    async def _serve_hit(
        self, ctx: RequestContext, plan: RoutePlan, body: dict[str, Any], entry: CachedResponse
    ) -> ChatResponse | StreamResponse:
        """The cached answer: no upstream, nothing reserved, one ledger item (cost 0, the
        original cost as its saving), published before the first byte."""
        ctx.cache_status = cache_policy.HIT
        candidate = plan.candidates[0]
        event = self._event(ctx, plan, candidate, "ok", TokenUsage(), Decimal(0))
        event.model, event.provider = entry.model, entry.provider
        event.price_version, event.saved_usd = entry.price_version, entry.cost_usd
        event.stream = bool(body.get("stream"))
        await self._account(ctx, event)  # no budget held; a rate ticket settles at 0 tokens
        meta = self._meta(ctx, plan, candidate, Decimal(0))
        saved = format_usd(entry.cost_usd)
        meta.update(model=entry.model, provider=entry.provider, saved_usd=saved)
        headers = self._headers(ctx, plan, candidate)
        headers.update(
            {
                "x-modelyard-model": entry.model,
                "x-modelyard-provider": entry.provider,
                "x-modelyard-attempts": "0",
                "x-modelyard-cost-usd": "0",
                "x-modelyard-saved-usd": saved,
                "x-modelyard-route-reason": f"cached answer of {entry.source_request_id}",
                "age": str(entry.age()),
            }
        )
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamResponse(frames(replay(entry.body, include_usage, meta)), headers)
        return ChatResponse({**entry.body, "modelyard": meta}, headers)

    def _cache_store(
        self,
        ctx: RequestContext,
        candidate: Candidate,
        response: dict[str, Any],
        usage: TokenUsage,
        cost: Decimal,
    ) -> None:
        """Store a successful answer in the background: a lost write costs a later miss."""
        store, decision = self.response_cache, ctx.cache
        if store is None or decision is None or not decision.write:
            return
        entry = CachedResponse(
            body={k: v for k, v in response.items() if k != "modelyard"},
            model=candidate.model.id,
            provider=candidate.provider.id,
            cost_usd=cost,
            usage=usage,
            created_at=time.time(),
            source_request_id=ctx.request_id,
            price_version=candidate.price.version,
        )

        async def write() -> None:
            try:
                await asyncio.to_thread(
                    store.put, ctx.key.tenant, decision.key, entry, decision.ttl
                )
            except Exception:
                logger.exception("response cache write failed for %s", ctx.request_id)

        task = asyncio.get_running_loop().create_task(write())
        self.cache_writes.add(task)
        task.add_done_callback(self.cache_writes.discard)

    # -- accounting ----------------------------------------------------------------------------
    async def _admit(
        self,
        ctx: RequestContext,
        plan: RoutePlan,
        body: dict[str, Any],
        hold_seconds: int | None = None,
    ) -> None:
        """Reserve the most the request can cost (pricing.ceiling) in every budget of its key
        and tenant."""
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

    async def _rate_limit(self, ctx: RequestContext, tokens: int) -> None:
        """Count the request against its key's per-minute limits (429 when spent)."""
        limited = ctx.key.rpm is not None or ctx.key.tpm is not None
        if self.rate_limits is not None and limited:
            ctx.rate = await asyncio.to_thread(self.rate_limits.admit, ctx.key, tokens)

    async def _account(self, ctx: RequestContext, event: UsageEvent) -> None:
        """Publish the request's one usage event and settle its budget reservations."""
        await self.publisher.publish(event)
        if ctx.rate is not None and self.rate_limits is not None:
            used = event.input_tokens + event.output_tokens
            await asyncio.to_thread(self.rate_limits.settle, ctx.rate, used)
        if ctx.admission is not None and self.budgets is not None:
            await asyncio.to_thread(self.budgets.settle, ctx.admission, event.cost_usd)

    async def _release(self, ctx: RequestContext) -> None:
        """A request refused before any upstream call: its reservations and the tokens its
        rate ticket counted are given back (the request itself still counts)."""
        if ctx.rate is not None and self.rate_limits is not None:
            await asyncio.to_thread(self.rate_limits.settle, ctx.rate, 0)
        if ctx.admission is not None and self.budgets is not None:
            await asyncio.to_thread(self.budgets.settle, ctx.admission, Decimal(0))

    async def _publish_failure(self, ctx: RequestContext, plan: RoutePlan) -> None:
        if not ctx.execution.reached_upstream:
            await self._release(ctx)
            return
        last = ctx.execution.attempts[-1] if ctx.execution.attempts else None
        candidate = next(
            (c for c in plan.candidates if last and c.model.id == last.model), plan.candidates[0]
        )
        await self._account(
            ctx, self._event(ctx, plan, candidate, "failed", TokenUsage(), Decimal(0))
        )

    def _event(
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

    def _meta(
        self, ctx: RequestContext, plan: RoutePlan, candidate: Candidate, cost: Decimal
    ) -> dict[str, Any]:
        meta = {
            "request_id": ctx.request_id,
            "task": plan.task,
            "model": candidate.model.id,
            "provider": candidate.provider.id,
            "attempts": [a.as_dict() for a in ctx.execution.attempts],
            "cost_usd": format_usd(cost),
            "route_reason": plan.reason,
        }
        if ctx.cache_status is not None:
            meta["cache"] = ctx.cache_status
        return meta

    def _headers(
        self, ctx: RequestContext, plan: RoutePlan, candidate: Candidate
    ) -> dict[str, str]:
        headers = {
            "x-modelyard-request-id": ctx.request_id,
            "x-modelyard-task": plan.task,
            "x-modelyard-model": candidate.model.id,
            "x-modelyard-provider": candidate.provider.id,
            "x-modelyard-attempts": str(
                sum(1 for a in ctx.execution.attempts if a.status != "skipped")
            ),
            "x-modelyard-route-reason": _header_safe(plan.reason),
        }
        headers.update(rate_limit_headers(ctx.rate))
        if ctx.cache_status is not None:
            headers["x-modelyard-cache"] = ctx.cache_status
        if ctx.admission is not None and ctx.admission.warnings:
            headers["x-modelyard-budget-warning"] = _header_safe("; ".join(ctx.admission.warnings))
        return headers


def _is_date(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _header_safe(text: str) -> str:
    return text.encode("ascii", "replace").decode()[:300]


@dataclass(slots=True)
class _StreamBook:
    """A stream's outcome, recorded through the gateway (stream_relay.StreamBook)."""

    gateway: Gateway
    ctx: RequestContext
    plan: RoutePlan
    candidate: Candidate

    @property
    def caching(self) -> bool:
        return self.ctx.cache is not None and self.ctx.cache.write

    async def record(
        self, status: str, usage: TokenUsage, estimated: bool, ttft_ms: int
    ) -> Decimal:
        cost = cost_usd(usage, self.candidate.price)
        event = self.gateway._event(
            self.ctx, self.plan, self.candidate, status, usage, cost, ttft_ms, estimated
        )
        event.stream = True
        await self.gateway._account(self.ctx, event)
        return cost

    def keep(self, completion: dict[str, Any], usage: TokenUsage, cost: Decimal) -> None:
        self.gateway._cache_store(self.ctx, self.candidate, completion, usage, cost)

    def meta(self, cost: Decimal) -> dict[str, Any]:
        return self.gateway._meta(self.ctx, self.plan, self.candidate, cost)
