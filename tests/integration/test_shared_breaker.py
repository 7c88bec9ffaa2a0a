"""Circuit openings are shared across instances through UsageTable."""

from __future__ import annotations

import time
import uuid

from modelyard import aws
from modelyard.local.stack import LocalStack
from modelyard.resilience.breaker import CircuitBreaker
from modelyard.resilience.shared_breaker import SharedBreaker
from modelyard.settings import get_settings


def instance() -> tuple[CircuitBreaker, SharedBreaker]:
    breaker = CircuitBreaker(threshold=2, cool_down=30)
    return breaker, SharedBreaker(breaker, get_settings().usage_table, aws.client("dynamodb"))


def test_an_opening_on_one_instance_closes_the_model_on_another(stack: LocalStack):
    model = f"model-{uuid.uuid4().hex[:6]}"
    first, _ = instance()
    second, second_view = instance()
    first.failure(model)
    first.failure(model)  # opens, and (outside an event loop) publishes at once
    assert not first.allows(model)
    assert second.allows(model)
    second_view.refresh()
    assert not second.allows(model) and second.state(model) == "open"


def test_a_closed_circuit_is_withdrawn_and_expired_openings_are_ignored(stack: LocalStack):
    model = f"model-{uuid.uuid4().hex[:6]}"
    now = [time.time()]
    first = CircuitBreaker(threshold=1, cool_down=1, clock=lambda: now[0])
    SharedBreaker(first, get_settings().usage_table, aws.client("dynamodb"))
    first.failure(model)
    now[0] += 2
    first.begin(model)
    first.success(model)  # the half-open trial worked: the shared opening is deleted
    late, late_view = instance()
    late_view.refresh()
    assert late.allows(model)


def test_the_hot_path_refresh_runs_in_the_background(stack: LocalStack):
    import asyncio

    breaker, view = instance()
    model = f"model-{uuid.uuid4().hex[:6]}"
    other, _ = instance()
    other.failure(model)
    other.failure(model)

    async def hot_path() -> None:
        view.maybe_refresh()
        assert breaker.allows(model), "nothing was read yet: the call did not wait on DynamoDB"
        await asyncio.gather(*view._tasks)
        assert not breaker.allows(model)
        view.maybe_refresh()
        assert not view._tasks, "a fresh view is not read again"

    asyncio.run(hot_path())


def test_a_stale_close_does_not_delete_a_later_opening_by_another_instance(stack: LocalStack):
    model = f"model-{uuid.uuid4().hex[:6]}"
    now = time.time()
    first = CircuitBreaker(threshold=1, cool_down=1, clock=lambda: now)
    SharedBreaker(first, get_settings().usage_table, aws.client("dynamodb"))
    second = CircuitBreaker(threshold=1, cool_down=60, clock=lambda: now + 5)
    SharedBreaker(second, get_settings().usage_table, aws.client("dynamodb"))
    first.failure(model)  # open until now + 1
    second.failure(model)  # a later opening elsewhere: open until now + 65
    first.success(model)  # first's own opening ended: it withdraws only that one
    late, late_view = instance()
    late_view.refresh()
    assert late.state(model) == "open"


def test_an_earlier_opening_does_not_shorten_a_later_one(stack: LocalStack):
    model = f"model-{uuid.uuid4().hex[:6]}"
    now = time.time()
    later = CircuitBreaker(threshold=1, cool_down=60, clock=lambda: now)
    SharedBreaker(later, get_settings().usage_table, aws.client("dynamodb"))
    earlier = CircuitBreaker(threshold=1, cool_down=1, clock=lambda: now)
    SharedBreaker(earlier, get_settings().usage_table, aws.client("dynamodb"))
    later.failure(model)  # open until now + 60
    earlier.failure(model)  # open until now + 1: must not replace it
    late, late_view = instance()
    late_view.refresh()
    assert late.retry_after(model) > 30
