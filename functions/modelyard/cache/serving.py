"""Serving from the response cache: the lookup before routing's upstream call, the hit's
answer and its ledger item, and the background write of a fresh answer."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import Any

from modelyard import accounting
from modelyard.accounting import Accountant
from modelyard.cache import policy as cache_policy
from modelyard.cache.replay import replay
from modelyard.exchange import ChatResponse, RequestContext, StreamResponse
from modelyard.pricing.prices import TokenUsage, format_usd
from modelyard.routing.planner import Candidate, RoutePlan
from modelyard.store.config import ConfigRepository
from modelyard.store.responses import CachedResponse, ResponseCacheStore
from modelyard.stream_relay import frames

logger = logging.getLogger("modelyard.gateway")


class CacheServer:
    def __init__(
        self, store: ResponseCacheStore | None, config: ConfigRepository, accounts: Accountant
    ) -> None:
        #: exact-match answers per tenant; None turns caching off
        self.store = store
        self.config = config
        self.accounts = accounts
        #: cache writes in flight (off the response's path); kept so they are not collected
        self.writes: set[asyncio.Task[None]] = set()

    async def lookup(
        self,
        ctx: RequestContext,
        body: dict[str, Any],
        cache_control: str | None,
        header_policy: str | None,
    ) -> CachedResponse | None:
        """Decide whether the cache applies; if it may answer, one GetItem. Never raises."""
        if self.store is None:
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
                self.store.get, ctx.key.tenant, ctx.cache.key, ctx.cache.max_age
            )
        except Exception:
            logger.exception("response cache lookup failed; answering from upstream")
            return None
        if entry is None:
            return None
        # a key that may not use the model that answered (another key's entry) misses
        allowed = ctx.key.model_filter(await self.config.catalog_async())
        return entry if allowed(entry.model) else None

    async def serve(
        self, ctx: RequestContext, plan: RoutePlan, body: dict[str, Any], entry: CachedResponse
    ) -> ChatResponse | StreamResponse:
        """The cached answer: no upstream, nothing reserved, one ledger item (cost 0, the
        original cost as its saving), published before the first byte."""
        ctx.cache_status = cache_policy.HIT
        candidate = plan.candidates[0]
        event = self.accounts.event(ctx, plan, candidate, "ok", TokenUsage(), Decimal(0))
        event.model, event.provider = entry.model, entry.provider
        event.price_version, event.saved_usd = entry.price_version, entry.cost_usd
        event.stream = bool(body.get("stream"))
        await self.accounts.record(ctx, event)  # no budget held; a rate ticket settles at 0
        meta = accounting.meta(ctx, plan, candidate, Decimal(0))
        saved = format_usd(entry.cost_usd)
        meta.update(model=entry.model, provider=entry.provider, saved_usd=saved)
        headers = accounting.headers(ctx, plan, candidate)
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

    def keep(
        self,
        ctx: RequestContext,
        candidate: Candidate,
        response: dict[str, Any],
        usage: TokenUsage,
        cost: Decimal,
    ) -> None:
        """Store a successful answer in the background: a lost write costs a later miss."""
        store, decision = self.store, ctx.cache
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
        self.writes.add(task)
        task.add_done_callback(self.writes.discard)
