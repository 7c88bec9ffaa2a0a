"""Publishes usage events to SQS, with the ledger itself as the fallback.

If SQS cannot take an event, the router records it directly with the same idempotent
transaction the aggregator uses: an event is never dropped for want of a queue.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from modelyard.usage import aggregate
from modelyard.usage.events import UsageEvent

logger = logging.getLogger("modelyard.usage")


class UsagePublisher:
    def __init__(self, queue_url: str | None, table: str, clients: Any) -> None:
        """`clients(service)` returns a boto3 client (injected so tests need no patching)."""
        self.queue_url = queue_url
        self.table = table
        self.clients = clients

    def publish_sync(self, event: UsageEvent) -> str:
        body = event.model_dump_json()
        if self.queue_url:
            try:
                self.clients("sqs").send_message(QueueUrl=self.queue_url, MessageBody=body)
                return "queued"
            except Exception:
                logger.exception("usage queue unavailable; recording %s directly", event.request_id)
        return aggregate.record(self.clients("dynamodb"), self.table, event)

    async def publish(self, event: UsageEvent) -> str:
        return await asyncio.to_thread(self.publish_sync, event)
