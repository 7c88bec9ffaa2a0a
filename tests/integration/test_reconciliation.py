"""A thousand usage events (1,200 deliveries), delivered as SQS delivers them, reconcile.

Duplicates, reordering, records that fail and come back later, and batches replayed whole:
the counters must equal the sum of the ledger to the last unit, and every request must have
exactly one ledger item.
"""

from __future__ import annotations

import random
import uuid
from decimal import Decimal

from handlers.cost_aggregator import handler
from modelyard.local.stack import LocalStack
from modelyard.usage.aggregate import breakdown
from modelyard.usage.events import UsageEvent
from tests.integration.test_aggregation import sqs_batch, tenant_items

MODELS = {
    "deepseek-v4-flash": (Decimal("0.14"), Decimal("0.28")),
    "qwen3-32b": (Decimal("0.10"), Decimal("0.35")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "kimi-k2.5": (Decimal("0.50"), Decimal("1.00")),
}
TASKS = ["coding", "math", "chat", "translation"]


def make_events(tenant: str, count: int, rng: random.Random) -> list[UsageEvent]:
    events = []
    for _ in range(count):
        model = rng.choice(list(MODELS))
        price_in, price_out = MODELS[model]
        tokens_in, tokens_out = rng.randint(1, 50_000), rng.randint(1, 8_000)
        events.append(
            UsageEvent(
                request_id=f"req_{uuid.uuid4().hex}",
                tenant=tenant,
                key_id=f"key_{rng.randint(1, 3)}",
                created_at="2026-11-24T10:00:00+00:00",
                day="2026-11-24",
                status="ok",
                task=rng.choice(TASKS),
                model=model,
                provider="p",
                input_tokens=tokens_in,
                output_tokens=tokens_out,
                cost_usd=(tokens_in * price_in + tokens_out * price_out) / 10**6,
            )
        )
    return events


def test_a_thousand_events_with_duplicates_reordering_and_failures_reconcile(
    stack: LocalStack,
):
    rng = random.Random(2026)
    tenant = f"recon-{uuid.uuid4().hex[:8]}"
    events = make_events(tenant, 1000, rng)
    deliveries = [e.model_dump_json() for e in events]
    deliveries += [e.model_dump_json() for e in rng.sample(events, 200)]  # at-least-once
    rng.shuffle(deliveries)  # standard queues do not keep order
    retried: list[str] = []
    for start in range(0, len(deliveries), 100):
        batch = deliveries[start : start + 100]
        failing = set(rng.sample(range(len(batch)), 3))
        bodies = ["{broken" if i in failing else body for i, body in enumerate(batch)]
        result = handler(sqs_batch([], bodies), None)
        assert {f["itemIdentifier"] for f in result["batchItemFailures"]} == {
            f"m{i}" for i in failing
        }
        retried += [batch[i] for i in failing]
        if start % 500 == 0:
            handler(sqs_batch([], batch), None)  # a whole batch replayed
    for start in range(0, len(retried), 100):  # the failed records come back intact
        assert handler(sqs_batch([], retried[start : start + 100]), None) == {
            "batchItemFailures": []
        }

    ledger, counters = tenant_items(tenant)
    assert len(ledger) == len(events)
    assert {i["request_id"] for i in ledger} == {e.request_id for e in events}
    total = sum((e.cost_usd for e in events), Decimal(0))
    assert sum((i["cost_usd"] for i in ledger), Decimal(0)) == total
    day = counters["DAY#2026-11-24"]
    assert day["cost_usd"] == total
    assert day["requests"] == len(events)
    assert day["input_tokens"] == sum(e.input_tokens for e in events)
    for group, attribute in (("MODEL", "model"), ("TASK", "task")):
        for name in {getattr(e, attribute) for e in events}:
            expected = sum(
                (e.cost_usd for e in events if getattr(e, attribute) == name), Decimal(0)
            )
            assert breakdown(day)[(group, name)]["cost_usd"] == expected
