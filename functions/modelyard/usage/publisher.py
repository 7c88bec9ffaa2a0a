"""Publishes usage events to SQS in batches, with the ledger itself as the fallback.

Events published while a send is in flight wait for the next one and go together
(`SendMessageBatch`, up to ten, sent on the event loop: usage.sqs), so a busy router makes one
call for several requests. A caller's `publish` returns once its own event is on the queue. If
SQS cannot take an event, the router records it directly with the same idempotent transaction
the aggregator uses: an event is never dropped for want of a queue.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from modelyard.usage import aggregate
from modelyard.usage.events import UsageEvent
from modelyard.usage.sqs import SqsBatchSender

logger = logging.getLogger("modelyard.usage")

SQS_BATCH = 10

Pending = list[tuple[UsageEvent, asyncio.Future[str]]]


class BatchSender(Protocol):
    async def send(self, bodies: list[str]) -> set[int]:
        """Queue up to ten message bodies; the positions not taken. Raises if the call failed."""
        ...


class UsagePublisher:
    def __init__(
        self,
        queue_url: str | None,
        table: str,
        clients: Any,
        sender: BatchSender | None = None,
    ) -> None:
        """`clients(service)` returns a boto3 client (injected so tests need no patching);
        `sender` queues the messages (default: SQS at `queue_url`)."""
        self.queue_url = queue_url
        self.table = table
        self.clients = clients
        self.sender = sender or SqsBatchSender(queue_url or "", clients)
        #: per event loop (Mangum may run each invocation on a new one): waiting events, and
        #: whether a flusher is draining them
        self._pending: dict[asyncio.AbstractEventLoop, Pending] = {}
        self._flushers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    async def publish(self, event: UsageEvent) -> str:
        """ "queued", or, when SQS failed, what recording it directly did."""
        if not self.queue_url:
            return await asyncio.to_thread(self.record, event)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str] = loop.create_future()
        self._pending.setdefault(loop, []).append((event, done))
        if loop not in self._flushers:
            self._flushers[loop] = loop.create_task(self._flush(loop))
        return await done

    async def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = self._pending[loop]
        try:
            while pending:
                batch, pending[:SQS_BATCH] = pending[:SQS_BATCH], []
                outcomes = await self.send([event for event, _ in batch])
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    if done.done():
                        continue
                    if isinstance(outcome, Exception):
                        done.set_exception(outcome)
                    else:
                        done.set_result(outcome)
        finally:
            for _, done in pending:  # only if the flusher itself failed
                if not done.done():
                    done.set_exception(RuntimeError("usage publisher stopped"))
            del self._flushers[loop]
            del self._pending[loop]

    async def send(self, events: list[UsageEvent]) -> list[str | Exception]:
        """One SendMessageBatch; each event it could not queue is recorded directly (an
        exception in its place if even that failed)."""
        failed: set[int] = set(range(len(events)))
        try:
            failed = await self.sender.send([event.model_dump_json() for event in events])
        except Exception:
            logger.exception("usage queue unavailable; recording %d events directly", len(events))
        outcomes: list[str | Exception] = []
        for i, event in enumerate(events):
            try:
                outcomes.append(
                    await asyncio.to_thread(self.record, event) if i in failed else "queued"
                )
            except Exception as exc:
                logger.exception("usage event %s could not be recorded", event.request_id)
                outcomes.append(exc)
        return outcomes

    def record(self, event: UsageEvent) -> str:
        """The ledger item and counters, written by the router itself (no queue, or none up)."""
        return aggregate.record(self.clients("dynamodb"), self.table, event)
