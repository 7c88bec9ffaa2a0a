"""Feeds queued usage events to the aggregator handler, as Lambda's SQS event source would.

Local only: moto runs no Lambda code without Docker. Messages the handler reports in
`batchItemFailures` stay on the queue and come back after their visibility timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("modelyard.local")


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS event in the shape Lambda delivers, from ReceiveMessage's messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class UsagePoller:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        region: str,
        wait_seconds: int = 1,
        handle: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        """`handle(event)`: what Lambda would invoke (default: the aggregator's handler)."""
        self.handle = handle
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.region = region
        self.wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def poll_once(self, wait_seconds: int = 0) -> int:
        """One receive and one handler call; returns how many messages were handled."""
        from handlers.cost_aggregator import handler

        handle = self.handle or (lambda event: handler(event, None))
        with self._lock:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=wait_seconds,
                AttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if not messages:
                return 0
            result = handle(sqs_event(messages, self.queue_arn, self.region))
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(done)
                    ],
                )
            return len(messages)

    def drain(self) -> int:
        """Handle everything queued now (tests call this instead of waiting)."""
        total = 0
        while handled := self.poll_once():
            total += handled
        return total

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="usage-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(self.wait_seconds)
            except Exception:
                logger.exception("usage poller failed; retrying")
                self._stop.wait(1)
