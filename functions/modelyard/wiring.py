"""Builds the production object graph from settings (lazily, on first request)."""

from __future__ import annotations

from modelyard import aws
from modelyard.auth.budgets import BudgetGuard
from modelyard.auth.ratelimits import RateLimiter
from modelyard.gateway import Gateway
from modelyard.jobs import JobService
from modelyard.logs import register_secret
from modelyard.providers.registry import adapter_for
from modelyard.resilience.executor import FallbackExecutor, Limits
from modelyard.resilience.idempotency import IdempotencyGuard
from modelyard.resilience.shared_breaker import SharedBreaker
from modelyard.settings import Settings
from modelyard.store.budgets import BudgetStore
from modelyard.store.config import ConfigRepository
from modelyard.store.health import HealthRepository
from modelyard.store.ratelimits import RateLimitStore
from modelyard.store.responses import ResponseCacheStore
from modelyard.store.stored_responses import StoredResponses
from modelyard.store.usage import UsageRepository
from modelyard.usage.publisher import UsagePublisher

PEPPER_MAX_AGE_SECONDS = 3600


def key_pepper(settings: Settings) -> str:
    """The API-key pepper: Secrets Manager when deployed, the local setting otherwise."""
    pepper = settings.key_pepper
    if settings.key_pepper_secret:
        from aws_lambda_powertools.utilities.parameters import get_secret

        pepper = str(get_secret(settings.key_pepper_secret, max_age=PEPPER_MAX_AGE_SECONDS))
    register_secret(pepper)
    return pepper


def build_gateway(settings: Settings) -> Gateway:
    dynamodb = aws.client("dynamodb")
    executor = FallbackExecutor(
        adapter_for,
        limits=Limits(
            deadline_seconds=settings.deadline_seconds,
            attempt_seconds=settings.attempt_timeout_seconds,
            first_token_seconds=settings.first_token_timeout_seconds,
        ),
    )
    return Gateway(
        config=ConfigRepository(
            settings.config_table, dynamodb, cache_seconds=settings.config_cache_seconds
        ),
        publisher=UsagePublisher(settings.usage_queue_url, settings.usage_table, aws.client),
        executor=executor,
        shared_breaker=SharedBreaker(executor.breaker, settings.usage_table, dynamodb),
        pepper=key_pepper(settings),
        usage=UsageRepository(settings.usage_table, dynamodb),
        health=HealthRepository(settings.usage_table, dynamodb),
        budgets=BudgetGuard(BudgetStore(settings.usage_table, dynamodb)),
        rate_limits=RateLimiter(RateLimitStore(settings.usage_table, dynamodb)),
        idempotency=IdempotencyGuard(settings.usage_table, dynamodb),
        jobs=JobService(settings.usage_table, settings.state_machine_arn, aws.client),
        response_cache=ResponseCacheStore(settings.usage_table, dynamodb)
        if settings.response_cache
        else None,
        stored_responses=StoredResponses(settings.usage_table, dynamodb),
    )
