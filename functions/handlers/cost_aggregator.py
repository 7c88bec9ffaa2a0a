"""The cost aggregator Lambda: SQS batches of usage events -> ledger, counters, metrics.

The batch is counted as a whole (each counter written once, exactly once: `usage.batches`);
a record that is unreadable or could not be ledgered is reported in `batchItemFailures`, so
SQS redelivers only it. DynamoDB's transient refusals (conflicts, throttling, 500s,
timeouts) are retried with backoff on every call (`store.contention.Retrying`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import ValidationError

from modelyard import aws
from modelyard.settings import get_settings
from modelyard.store.contention import Retrying
from modelyard.usage import batches
from modelyard.usage.events import UsageEvent
from modelyard.usage.metrics import BatchMetrics


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process(event, context, aws.client("dynamodb"))


def process(event: dict[str, Any], context: Any, dynamodb: Any) -> dict[str, Any]:
    """The batch against the DynamoDB client `dynamodb` (tests pass one that fails as real
    DynamoDB does)."""
    failed: list[str] = []
    events: list[UsageEvent] = []
    messages: dict[str, list[str]] = defaultdict(list)  # request id -> its deliveries
    for record in event["Records"]:
        try:
            usage = UsageEvent.model_validate_json(record["body"])
        except ValidationError:
            failed.append(record["messageId"])
            continue
        events.append(usage)
        messages[usage.request_id].append(record["messageId"])
    result = batches.record_batch(Retrying(dynamodb), get_settings().usage_table, events)
    failed += [m for request_id in result.retry for m in messages[request_id]]
    metrics = BatchMetrics()
    for usage in result.recorded:
        metrics.add(usage)
    metrics.flush()
    order = {record["messageId"]: i for i, record in enumerate(event["Records"])}
    return {"batchItemFailures": [{"itemIdentifier": m} for m in sorted(failed, key=order.get)]}
