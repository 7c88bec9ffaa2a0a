"""The aggregator against DynamoDB and SQS (moto server): exactly once, exactly reconciled."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from handlers.cost_aggregator import handler
from modelyard import aws
from modelyard.local.stack import LocalStack
from modelyard.settings import get_settings
from modelyard.store.contention import Backoff
from modelyard.store.dynamo import from_item
from modelyard.usage import aggregate
from modelyard.usage.aggregate import breakdown
from modelyard.usage.events import UsageEvent
from modelyard.usage.publisher import UsagePublisher
from tests.faults import DYNAMODB_KINDS, FaultyDynamoDB

EVENTS = Path(__file__).parents[2] / "events"


def usage_event(tenant: str, i: int, model: str = "deepseek-v4-flash") -> UsageEvent:
    return UsageEvent(
        request_id=f"req_{uuid.uuid4().hex}",
        tenant=tenant,
        key_id=f"key_{tenant}",
        created_at="2026-11-24T10:00:00+00:00",
        day="2026-11-24",
        status="ok",
        model=model,
        provider="deepseek",
        input_tokens=100 + i,
        output_tokens=50 + i,
        cost_usd=Decimal(100 + i) * Decimal("0.14") / 10**6
        + Decimal(50 + i) * Decimal("0.28") / 10**6,
    )


def sqs_batch(events: list[UsageEvent], bodies: list[str] | None = None) -> dict:
    bodies = bodies or [e.model_dump_json() for e in events]
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"h{i}",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def tenant_items(tenant: str) -> tuple[list[dict], dict[str, dict]]:
    client = aws.client("dynamodb")
    table = get_settings().usage_table
    pages = client.get_paginator("scan").paginate(TableName=table)  # past 1 MB
    items = [from_item(i) for page in pages for i in page["Items"]]
    ledger = [i for i in items if i["sk"] == "LEDGER" and i["tenant"] == tenant]
    counters = {i["sk"]: i for i in items if i["pk"] == f"TENANT#{tenant}"}
    return ledger, counters


def assert_reconciled(tenant: str, expected_requests: int) -> None:
    ledger, counters = tenant_items(tenant)
    assert len(ledger) == expected_requests
    day = counters["DAY#2026-11-24"]
    assert day["requests"] == expected_requests
    assert day["cost_usd"] == sum(i["cost_usd"] for i in ledger)
    assert day["input_tokens"] == sum(i["input_tokens"] for i in ledger)
    assert day["output_tokens"] == sum(i["output_tokens"] for i in ledger)
    by_model: dict[str, Decimal] = defaultdict(Decimal)
    for item in ledger:
        by_model[item["model"]] += item["cost_usd"]
    for model, cost in by_model.items():
        assert breakdown(day)[("MODEL", model)]["cost_usd"] == cost


def test_n_events_make_n_ledger_items_and_counters_equal_their_sum(stack: LocalStack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    events = [
        usage_event(tenant, i, random.choice(["deepseek-v4-flash", "qwen3-32b"])) for i in range(40)
    ]
    for start in range(0, len(events), 10):
        assert handler(sqs_batch(events[start : start + 10]), None) == {"batchItemFailures": []}
    assert_reconciled(tenant, 40)


def test_a_batch_delivered_twice_is_counted_once(stack: LocalStack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    batch = sqs_batch([usage_event(tenant, i) for i in range(10)])
    handler(batch, None)
    handler(batch, None)
    assert_reconciled(tenant, 10)


def test_a_failing_record_is_reported_alone_and_retried(stack: LocalStack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    events = [usage_event(tenant, i) for i in range(5)]
    bodies = [e.model_dump_json() for e in events]
    bodies[2] = '{"not": "a usage event"}'
    result = handler(sqs_batch(events, bodies), None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert_reconciled(tenant, 4)
    handler(sqs_batch([events[2]]), None)  # the redelivered record, now readable
    assert_reconciled(tenant, 5)


def test_queue_round_trip_through_the_poller(stack: LocalStack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    sqs = aws.client("sqs")
    events = [usage_event(tenant, i) for i in range(12)]
    for event in events + events[:3]:  # three duplicates, as SQS may deliver
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=event.model_dump_json())
    stack.poller.drain()
    assert_reconciled(tenant, 12)


def test_sample_sqs_event_is_accepted(stack: LocalStack):
    event = json.loads((EVENTS / "sqs_usage_batch.json").read_text())
    assert handler(event, None) == {"batchItemFailures": []}


def test_aggregator_emits_emf_metrics(stack: LocalStack, capsys):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    handler(sqs_batch([usage_event(tenant, 1)]), None)
    blobs = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    names = {m["Name"] for b in blobs for d in b["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"CostUSD", "Requests", "InputTokens", "OutputTokens"} <= names
    dims = {
        frozenset(d)
        for b in blobs
        for cw in b["_aws"]["CloudWatchMetrics"]
        for d in cw["Dimensions"]
    }
    for expected in (
        {"service"},
        {"model", "service"},
        {"provider", "service"},
        {"task", "service"},
    ):
        assert frozenset(expected) in dims


def test_aggregator_keeps_model_health_that_the_router_reads_back(stack: LocalStack):
    from modelyard.store.health import HealthRepository
    from modelyard.usage.events import AttemptRecord

    now = datetime.now(UTC).isoformat()
    flaky, steady = f"flaky-{uuid.uuid4().hex[:6]}", f"steady-{uuid.uuid4().hex[:6]}"
    events = []
    for i in range(6):
        event = usage_event(f"t-{uuid.uuid4().hex[:8]}", i, model=steady)
        event.created_at = now
        event.latency_ms = 700
        event.attempts = [
            AttemptRecord(
                model=flaky,
                provider="yi",
                status="error",
                error_type="server_error",
                latency_ms=5,
            ),
            AttemptRecord(model=steady, provider="moonshot", status="ok", latency_ms=690),
        ]
        events.append(event)
    handler(sqs_batch(events), None)
    health = HealthRepository(get_settings().usage_table, aws.client("dynamodb")).recent()
    assert health[flaky].error_rate == 1.0
    assert health[steady].error_rate == 0.0
    assert health[steady].ttft_ms == 700


def test_a_client_that_went_away_is_not_a_failed_request(stack: LocalStack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    cancelled = usage_event(tenant, 0).model_copy(update={"status": "cancelled"})
    failed = usage_event(tenant, 1).model_copy(update={"status": "failed"})
    handler(sqs_batch([cancelled, failed]), None)
    _, counters = tenant_items(tenant)
    assert counters["DAY#2026-11-24"]["requests"] == 2
    assert counters["DAY#2026-11-24"]["failed_requests"] == 1


def test_dynamodb_conflicts_throttling_and_timeouts_never_lose_or_double_an_event(
    stack: LocalStack,
):
    """Real DynamoDB cancels concurrent transactions on one counter, throttles hot partitions,
    answers 500 and times out (even after committing): every event is still recorded once,
    on the aggregator's path and on the router's direct one."""
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    faulty = FaultyDynamoDB(aws.client("dynamodb"), rate=0.5)
    table = get_settings().usage_table
    events = [usage_event(tenant, i) for i in range(40)]
    quick = Backoff(attempts=30, base=0.001, cap=0.005)
    for e in events[:20]:  # the aggregator's path, redelivered once
        aggregate.record(faulty, table, e, quick)
        aggregate.record(faulty, table, e, quick)
    publisher = UsagePublisher(None, table, lambda service: faulty)
    for e in events[20:]:  # the router's direct write (no queue)
        asyncio.run(publisher.publish(e))
    assert set(faulty.counts) == set(DYNAMODB_KINDS), faulty.counts
    assert_reconciled(tenant, 40)
