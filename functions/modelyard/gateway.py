"""The gateway's request logic: authenticate, route, execute, price, account.

Transport-free: the API layer hands it parsed bodies and headers and turns what it returns
into HTTP. Dependencies come in through the constructor, so tests build one with fakes or
with moto-backed repositories and no patching.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from modelyard import accounting
from modelyard.accounting import Accountant
from modelyard.admission import Admitter
from modelyard.auth.budgets import BudgetGuard
from modelyard.auth.keys import KeyRecord, bearer_token, hash_key
from modelyard.auth.ratelimits import RateLimiter
from modelyard.cache.serving import CacheServer
from modelyard.errors import (
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from modelyard.exchange import ChatResponse, RequestContext, StreamResponse
from modelyard.jobs import JOB_HOLD_SECONDS, JobService, require_jobs
from modelyard.pricing.prices import cost_usd
from modelyard.providers.base import ChatResult
from modelyard.resilience.executor import FallbackExecutor
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
from modelyard.store.responses import ResponseCacheStore
from modelyard.store.stored_responses import StoredResponses
from modelyard.store.usage import UsageRepository
from modelyard.stream_relay import open_relay
from modelyard.usage.publisher import UsagePublisher


class Gateway:
    """The pipeline every door (chat completions, messages, responses) goes through:
    authenticate, plan, admit, serve from the cache or an upstream, account."""

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
        stored_responses: StoredResponses | None = None,
    ) -> None:
        self.config = config
        self.admission = Admitter(config, budgets, rate_limits)
        self.accounts = Accountant(publisher, self.admission)
        #: exact-match answers per tenant (modelyard.cache); a None store turns caching off
        self.cache = CacheServer(response_cache, config, self.accounts)
        #: the Responses API's stored responses (`store`); None where not wired
        self.stored_responses = stored_responses
        #: the executor's breaker as seen by every instance; None keeps it local
        self.shared_breaker = shared_breaker
        #: `Idempotency-Key` replays; None where not wired
        self.idempotency = idempotency
        #: asynchronous jobs (`Prefer: respond-async`); None where they are not wired
        self.jobs = jobs
        self.usage = usage
        self.health = health
        self.executor = executor
        self.pepper = pepper

    @property
    def publisher(self) -> UsagePublisher:
        """Where usage events go (benchmarks and tests swap it)."""
        return self.accounts.publisher

    @publisher.setter
    def publisher(self, publisher: UsagePublisher) -> None:
        self.accounts.publisher = publisher

    @property
    def cache_writes(self) -> set[asyncio.Task[None]]:
        return self.cache.writes

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
        await self.admission.rate_limit(ctx, estimate)
        try:
            await self.admission.reserve(ctx, plan, body, hold_seconds=JOB_HOLD_SECONDS)
            reservations = ctx.admission.reservations if ctx.admission is not None else []
            return await asyncio.to_thread(jobs.start, plan, body, key, request_id, reservations)
        except BaseException:
            await self.admission.release(ctx)
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
        await self.admission.rate_limit(
            ctx, features.estimated_input_tokens + (features.max_output_tokens or 0)
        )
        hit = await self.cache.lookup(ctx, body, cache_control, header_policy)
        if hit is not None:
            return await self.cache.serve(ctx, plan, body, hit)
        try:
            await self.admission.reserve(ctx, plan, body)
        except GatewayError:
            await self.admission.release(ctx)
            raise
        if body.get("stream"):
            return await open_relay(
                self.executor, self.accounts, self.cache, body, ctx, plan, features
            )
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
        await self.admission.rate_limit(ctx, embedding_tokens(body.get("input")))
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
            await self.accounts.record_failure(ctx, plan)
            raise
        cost = cost_usd(result.usage, candidate.price)
        meta = accounting.meta(ctx, plan, candidate, cost)
        response = result.body
        self.cache.keep(ctx, candidate, dict(response), result.usage, cost)
        response["modelyard"] = meta
        event = self.accounts.event(ctx, plan, candidate, "ok", result.usage, cost)
        headers = accounting.headers(ctx, plan, candidate)
        headers["x-modelyard-cost-usd"] = meta["cost_usd"]
        native = None if result.native is None else {**result.native, "modelyard": meta}
        return ChatResponse(response, headers, self.accounts.record(ctx, event), native)


def _is_date(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True
