"""The cost aggregator Lambda: SQS batches of usage events -> ledger, counters, metrics.

Each record is recorded on its own (exactly once, see `usage.aggregate`); a record that fails
is reported in `batchItemFailures` so SQS redelivers only it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from modelyard import aws
from modelyard.settings import get_settings
from modelyard.usage import aggregate
from modelyard.usage.events import UsageEvent
from modelyard.usage.metrics import BatchMetrics

processor = BatchProcessor(event_type=EventType.SQS)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process(event, context, aws.client("dynamodb"))


def process(event: dict[str, Any], context: Any, dynamodb: Any) -> dict[str, Any]:
    """The batch against the DynamoDB client `dynamodb` (tests pass one that fails as real
    DynamoDB does)."""
    metrics = BatchMetrics()

    def record_handler(record: SQSRecord) -> str:
        usage = UsageEvent.model_validate_json(record.body)
        outcome = aggregate.record(dynamodb, get_settings().usage_table, usage)
        if outcome == "recorded":
            metrics.add(usage)
        return outcome

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    metrics.flush()
    return response
