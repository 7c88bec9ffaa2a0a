"""Shares circuit openings across Lambda instances through UsageTable.

An instance that opens a circuit writes `BREAKER / <model>` with the time it stays open; every
instance reads the partition every few seconds and adopts openings it has not seen. Reads and
writes run in the background: the request path only ever consults the in-memory breaker.

Writes are conditional, because instances race: an opening replaces only an earlier one, and
a close deletes only the opening this instance knew of, never a later one made elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import Any

from modelyard.resilience.breaker import CircuitBreaker
from modelyard.store.dynamo import query_all, to_item

logger = logging.getLogger("modelyard.breaker")
BREAKER_PK = "BREAKER"


class SharedBreaker:
    def __init__(
        self, breaker: CircuitBreaker, table: str, client: Any, refresh_seconds: float = 5.0
    ) -> None:
        self.breaker = breaker
        self.table = table
        self.client = client
        self.refresh_seconds = refresh_seconds
        self._refreshed = 0.0
        #: per model, the latest opening this instance has written or adopted (epoch seconds)
        self._seen: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        breaker.listeners.append(self._published)

    def maybe_refresh(self) -> None:
        """Start a background refresh when the view is older than `refresh_seconds`."""
        now = time.monotonic()
        if now - self._refreshed >= self.refresh_seconds:
            self._refreshed = now
            self._background(self.refresh)

    def refresh(self) -> None:
        now = time.time()
        for item in query_all(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": BREAKER_PK}},
        ):
            until = float(item.get("open_until", 0))
            if until > now:
                key = str(item["sk"])
                self._seen[key] = max(until, self._seen.get(key, 0.0))
                self.breaker.adopt(key, until)

    def clear(self) -> None:
        """Close every circuit, here and for every instance (an operator's reset)."""
        for item in query_all(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": BREAKER_PK}},
        ):
            self.client.delete_item(
                TableName=self.table, Key=to_item({"pk": BREAKER_PK, "sk": item["sk"]})
            )
        self.breaker.reset()

    def _published(self, key: str, open_until: float | None) -> None:
        if open_until is None:
            seen = self._seen.pop(key, 0.0)
            self._background(lambda: self._conditional(self.client.delete_item, key, "<=", seen))
            return
        self._seen[key] = max(open_until, self._seen.get(key, 0.0))
        item = {
            "pk": BREAKER_PK,
            "sk": key,
            "open_until": Decimal(f"{open_until:.3f}"),
            "expires_at": int(open_until) + 3600,
        }
        self._background(
            lambda: self._conditional(self.client.put_item, key, "<", open_until, to_item(item))
        )

    def _conditional(
        self, write: Any, key: str, compare: str, until: float, item: dict[str, Any] | None = None
    ) -> None:
        """`write` (a put of `item`, or a delete) if there is no opening or the stored one's
        `open_until` is `compare` `until`; a later opening by another instance stays."""
        target = (
            {"Item": item} if item is not None else {"Key": to_item({"pk": BREAKER_PK, "sk": key})}
        )
        try:
            write(
                TableName=self.table,
                ConditionExpression=f"attribute_not_exists(pk) OR open_until {compare} :until",
                ExpressionAttributeValues=to_item({":until": Decimal(f"{until:.3f}")}),
                **target,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            logger.info("circuit of %s changed elsewhere; the next refresh adopts it", key)

    def _background(self, work: Any) -> None:
        def guarded() -> None:
            try:
                work()
            except Exception:  # the shared view is best effort; the local one still works
                logger.warning("circuit breaker sync failed", exc_info=True)

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            guarded()
            return
        task = loop.create_task(asyncio.to_thread(guarded))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
