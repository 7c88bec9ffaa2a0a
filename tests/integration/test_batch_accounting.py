"""Batch accounting's failure modes (usage.batches) against DynamoDB on the moto server.

An invocation that dies after its ledger puts, or between two chunks of counters, a batch
retried after its counters were written, a duplicate delivered while its first batch is still
running, duplicates inside one batch, a record whose put fails: each time every request has
one ledger item and the counters equal the ledger's sums.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import pytest

from handlers.cost_aggregator import handler
from modelyard import aws
from modelyard.local.stack import LocalStack
from modelyard.settings import get_settings
from modelyard.store.budgets import BudgetStore, Reservation
from modelyard.store.dynamo import from_item, query_all, to_item
from modelyard.usage import batches
from modelyard.usage.aggregate import breakdown
from modelyard.usage.events import UsageEvent
from tests.integration.test_aggregation import sqs_batch, usage_event


class Crash(Exception):
    """The invocation dies here."""


class DyingClient:
    """A DynamoDB client that raises `Crash` at the n-th call of one operation (1-based)."""

    def __init__(self, client: Any, operation: str, at: int, request_id: str | None = None):
        self._client = client
        self._operation = operation
        self._at = at
        self._request_id = request_id
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name != self._operation:
            return method

        def call(**kwargs: Any) -> Any:
            if self._request_id is None or self._request_id in str(kwargs):
                self.calls += 1
                if self.calls == self._at:
                    raise Crash(name)
            return method(**kwargs)

        return call


def later(seconds: float) -> Any:
    return lambda: time.time() + seconds


def events_for(tenant: str, count: int) -> list[UsageEvent]:
    models = ["deepseek-v4-flash", "qwen3-32b", "gpt-4o"]
    return [usage_event(tenant, i, models[i % 3]) for i in range(count)]


def assert_counted_once(tenant: str, events: list[UsageEvent]) -> None:
    """One ledger item per event; the tenant's counters equal the events' sums exactly."""
    client, table = aws.client("dynamodb"), get_settings().usage_table
    for event in events:
        item = client.get_item(
            TableName=table,
            Key=to_item({"pk": f"REQ#{event.request_id}", "sk": "LEDGER"}),
            ConsistentRead=True,
        )
        assert from_item(item["Item"])["cost_usd"] == event.cost_usd
    counters = {
        i["sk"]: i
        for i in query_all(
            client,
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": f"TENANT#{tenant}"}),
            ConsistentRead=True,
        )
    }
    day = counters["DAY#2026-11-24"]
    assert day["requests"] == len(events)
    assert day["cost_usd"] == sum((e.cost_usd for e in events), Decimal(0))
    assert day["output_tokens"] == sum(e.output_tokens for e in events)
    for model in {e.model for e in events}:
        mine = [e for e in events if e.model == model]
        entry = breakdown(day)[("MODEL", model)]
        assert (entry["requests"], entry["cost_usd"]) == (
            len(mine),
            sum((e.cost_usd for e in mine), Decimal(0)),
        )


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of two counters, so that a handful of events spans several transactions."""
    monkeypatch.setattr(batches, "CHUNK", 2)


def test_a_batch_that_died_after_its_ledger_puts_is_counted_once_after_the_lease(
    stack: LocalStack, small_chunks: None
):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    events = events_for(tenant, 8)
    client, table = aws.client("dynamodb"), get_settings().usage_table
    dying = DyingClient(client, "put_item", at=1, request_id="SEAL")
    died = batches.record_batch(dying, table, events)
    assert died.retry == {e.request_id for e in events} and not died.recorded

    early = batches.record_batch(client, table, events[:3])  # its claim may still be live
    assert early.retry == {e.request_id for e in events[:3]}
    first = batches.record_batch(client, table, events[:5], now=later(batches.LEASE_SECONDS + 5))
    second = batches.record_batch(client, table, events[3:], now=later(batches.LEASE_SECONDS + 9))
    assert len(first.recorded) == 5 and len(second.recorded) == 3
    assert second.duplicates == {e.request_id for e in events[3:5]}
    assert_counted_once(tenant, events)


def test_a_batch_that_died_between_chunks_is_finished_by_any_redelivered_member(
    stack: LocalStack, small_chunks: None
):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    events = events_for(tenant, 6)
    client, table = aws.client("dynamodb"), get_settings().usage_table
    dying = DyingClient(client, "transact_write_items", at=3)  # chunks 0 and 1 applied
    assert batches.record_batch(dying, table, events).retry == {e.request_id for e in events}

    finished = batches.record_batch(client, table, [events[4]])
    assert finished.duplicates == {events[4].request_id}
    assert_counted_once(tenant, events)
    again = batches.record_batch(client, table, events)  # the rest, redelivered too
    assert again.duplicates == {e.request_id for e in events}
    assert_counted_once(tenant, events)


def test_a_batch_retried_after_its_counters_were_written_changes_nothing(
    stack: LocalStack, small_chunks: None
):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    events = events_for(tenant, 7)
    batch = sqs_batch(events)
    assert handler(batch, None) == {"batchItemFailures": []}
    assert handler(batch, None) == {"batchItemFailures": []}  # its invocation timed out late
    mixed = events[2:4] + events_for(tenant, 2)  # and two of them again, among new ones
    assert handler(sqs_batch(mixed), None) == {"batchItemFailures": []}
    assert_counted_once(tenant, events + mixed[2:])


def test_duplicates_inside_one_batch_are_counted_once_and_both_deliveries_succeed(
    stack: LocalStack,
):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    events = events_for(tenant, 4)
    assert handler(sqs_batch(events + events[:2]), None) == {"batchItemFailures": []}
    assert_counted_once(tenant, events)


def test_a_record_whose_ledger_put_fails_is_reported_alone_and_counted_when_it_returns(
    stack: LocalStack,
):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    events = events_for(tenant, 5)
    client, table = aws.client("dynamodb"), get_settings().usage_table
    failing = DyingClient(client, "put_item", at=1, request_id=events[3].request_id)
    result = batches.record_batch(failing, table, events)
    assert result.retry == {events[3].request_id}
    assert batches.record_batch(client, table, [events[3]]).recorded == [events[3]]
    assert_counted_once(tenant, events)


def test_a_jobs_reservation_is_settled_once_when_its_event_comes_in_two_batches(
    stack: LocalStack,
):
    client, table = aws.client("dynamodb"), get_settings().usage_table
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    event = usage_event(tenant, 1)
    scope, window = f"KEY#{tenant}", "DAY#2026-11-24"
    store = BudgetStore(table, client)
    store.reserve(scope, window, event.request_id, Decimal("0.5"), Decimal(1), 3600, 2**31)
    event.reservations = [Reservation(scope, window, Decimal("0.5"))]
    assert batches.record_batch(client, table, [event]).recorded == [event]
    assert batches.record_batch(client, table, [event]).duplicates == {event.request_id}
    assert store.committed(scope, window) == event.cost_usd
    assert_counted_once(tenant, [event])
