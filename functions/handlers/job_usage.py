"""A durable job's one usage event, handed off whatever SQS does (a Step Functions Task).

Input: `{"state": <the execution's state>, "status": "ok" | "failed"}`. The event is built from
the state and the job item's priced attempts (`jobs.job_event`), then sent to the usage queue
as the router sends its own; when SQS refuses it (after botocore's retries), it is ledgered
directly (`aggregate.record`, the router's path when the queue is down), so a queue outage
cannot leave a finished job unrecorded. Either way once: the aggregator and the direct write
both key the ledger item on the request id, so a retried hand-off is a duplicate, never a
second charge. Both failing raises, and the state machine retries it.
"""

from __future__ import annotations

import logging
from typing import Any

from modelyard import aws
from modelyard.jobs import job_event, job_key
from modelyard.settings import get_settings
from modelyard.store.contention import Retrying
from modelyard.store.dynamo import from_item
from modelyard.usage import aggregate

logger = logging.getLogger("modelyard.usage")


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    state, settings = event["state"], get_settings()
    dynamodb = aws.client("dynamodb")
    item = dynamodb.get_item(
        TableName=settings.usage_table, Key=job_key(str(state["job_id"])), ConsistentRead=True
    ).get("Item")
    usage = job_event(state, from_item(item or {}), str(event["status"]))
    try:
        aws.client("sqs").send_message(
            QueueUrl=settings.usage_queue_url, MessageBody=usage.model_dump_json()
        )
        return {"request_id": usage.request_id, "handed_off": "queue"}
    except Exception:  # any refusal: the ledger is written directly instead
        logger.exception("usage queue unavailable; recording job %s directly", usage.request_id)
    outcome = aggregate.record(Retrying(dynamodb), settings.usage_table, usage)
    return {"request_id": usage.request_id, "handed_off": f"ledger ({outcome})"}
