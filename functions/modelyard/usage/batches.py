"""Batch aggregation: each counter is written once per batch of usage events, exactly once.

A counter shared by all traffic of a model or a large tenant cannot take a write per request
at thousands of requests a second (docs/accounting.md). So the aggregator counts a whole SQS
batch at a time, in three steps:

1. **Claim.** Each event's ledger item is put (conditionally, as in `aggregate`) with the
   claim `batch` = this batch's id and `batch_at`. The put that wins decides which batch
   counts the request; a put that finds the item tells who claimed it.
2. **Seal.** `BATCH#<id>` / `SEAL` is put, if absent, with the members (the request ids this
   batch claimed) and the counter deltas, summed per item and cut into chunks of at most
   `CHUNK` counters. From here the batch's counting is fixed and anyone can finish it.
3. **Apply.** Chunk k is one TransactWriteItems: its counters' ADDs and `BATCH#<id>` / `DONE`
   set from k to k + 1 on the condition that it was k. A chunk applied twice fails its
   condition and changes nothing, so an invocation retried, or two finishing one batch,
   count it once.

A redelivered event whose ledger item another batch claimed: if that batch is sealed and
lists it, the event is counted (its remaining chunks are applied first, which completes the
work of an invocation that died mid-way); if the batch is not sealed and its claim is older
than `LEASE_SECONDS` (longer than the aggregator may run) its invocation is gone: `SEAL` is
put as `void` (so it can never seal) and the ledger item is claimed again, by a conditional
update, and counted here. A younger unsealed claim is reported for redelivery later.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from modelyard.store.dynamo import from_item, to_item
from modelyard.usage.aggregate import add_update, deltas, ledger_key, write_ledger
from modelyard.usage.events import UsageEvent

logger = logging.getLogger("modelyard.usage")

#: counters per transaction; the 100th item is the batch's DONE marker
CHUNK = 99
#: events per seal: members and chunks stay far below DynamoDB's 400 KB item limit
MAX_EVENTS = 1000
#: a claim this old without a seal belongs to a dead invocation (the aggregator times out
#: at 30 s; the queue's visibility timeout, 185 s, is longer, so it is redelivered after this)
LEASE_SECONDS = 120
#: SQS keeps a message 14 days at most: no redelivery can need a batch item older than that
BATCH_RETENTION_SECONDS = 15 * 24 * 3600
#: concurrent ledger puts (independent items, no hot key among them)
WRITERS = 16

Chunk = list[tuple[tuple[str, str], dict[str, int | Decimal]]]


@dataclass
class BatchResult:
    """What became of each event of a batch."""

    recorded: list[UsageEvent] = field(default_factory=list)  #: counted by this batch
    duplicates: set[str] = field(default_factory=set)  #: counted already (request ids)
    retry: set[str] = field(default_factory=set)  #: to report as failed, for redelivery


def record_batch(
    client: Any,
    table: str,
    events: list[UsageEvent],
    now: Callable[[], float] = time.time,
    writers: int = WRITERS,
) -> BatchResult:
    """Ledger and count `events`, each exactly once whatever was delivered before; `writers`
    ledger puts at a time."""
    unique = list({event.request_id: event for event in events}.values())  # one per request
    result = BatchResult()
    for start in range(0, len(unique), MAX_EVENTS):
        _Batch(client, table, uuid.uuid4().hex, now, writers).run(
            unique[start : start + MAX_EVENTS], result
        )
    return result


def batch_key(batch_id: str, sk: str) -> dict[str, Any]:
    return to_item({"pk": f"BATCH#{batch_id}", "sk": sk})


def chunks(events: list[UsageEvent]) -> list[Chunk]:
    """The batch's counter deltas, one entry per item, sorted, cut into transactions."""
    summed: dict[tuple[str, str], dict[str, int | Decimal]] = {}
    for event in events:
        for key, amounts in deltas(event).items():
            total = summed.setdefault(key, {})
            for name, amount in amounts.items():
                total[name] = total.get(name, 0) + amount
    ordered = sorted(summed.items())
    return [ordered[i : i + CHUNK] for i in range(0, len(ordered), CHUNK)]


def apply_chunk(
    client: Any, table: str, batch_id: str, k: int, chunk: Chunk, now: float
) -> Literal["applied", "done before"]:
    """Chunk k's counters and the batch's progress, in one transaction: safe to retry."""
    progress: dict[str, Any] = {
        "TableName": table,
        "Key": batch_key(batch_id, "DONE"),
        "UpdateExpression": "SET done = :next, expires_at = :expires",
        "ConditionExpression": "attribute_not_exists(pk)" if k == 0 else "done = :k",
        "ExpressionAttributeValues": to_item(
            {":next": k + 1, ":expires": int(now + BATCH_RETENTION_SECONDS)}
            | ({":k": k} if k else {})
        ),
    }
    items = [{"Update": progress}]
    items += [{"Update": add_update(table, key, amounts, now)} for key, amounts in chunk]
    try:
        client.transact_write_items(TransactItems=items)
    except client.exceptions.TransactionCanceledException as exc:
        codes = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
        if codes and codes[0] == "ConditionalCheckFailed":
            return "done before"
        raise
    return "applied"


def _encode(batch_chunks: list[Chunk]) -> bytes:
    plain = [
        [[pk, sk, {n: str(v) for n, v in a.items()}] for (pk, sk), a in chunk]
        for chunk in batch_chunks
    ]
    return zlib.compress(json.dumps(plain, separators=(",", ":")).encode())


def _decode(blob: bytes) -> list[Chunk]:
    plain = json.loads(zlib.decompress(blob))
    return [
        [((pk, sk), {n: Decimal(v) for n, v in a.items()}) for pk, sk, a in chunk]
        for chunk in plain
    ]


class _Batch:
    """One claim id's pass over at most MAX_EVENTS events."""

    def __init__(
        self, client: Any, table: str, batch_id: str, now: Callable[[], float], writers: int
    ):
        self.client = client
        self.writers = writers
        self.table = table
        self.id = batch_id
        self.now = now
        self._seals: dict[str, dict[str, Any] | None] = {}  # other batches, read once

    def run(self, events: list[UsageEvent], result: BatchResult) -> None:
        claim = {"batch": self.id, "batch_at": int(self.now())}
        with ThreadPoolExecutor(min(self.writers, len(events) or 1)) as pool:
            found = list(pool.map(lambda e: self._put(e, claim), events))
        owned: list[UsageEvent] = []
        for event, old in zip(events, found, strict=True):
            try:
                outcome = self._settle_claim(event, old)
            except Exception:
                logger.exception("usage event %s: claim not resolved", event.request_id)
                outcome = "retry"
            if outcome == "owned":
                owned.append(event)
            elif outcome == "duplicate":
                result.duplicates.add(event.request_id)
            else:
                result.retry.add(event.request_id)
        if not owned:
            return
        try:
            self._count(owned)
        except Exception:  # sealed: a redelivered member finishes it; unsealed: after the lease
            logger.exception("batch %s: %d events not counted yet", self.id, len(owned))
            result.retry.update(event.request_id for event in owned)
            return
        result.recorded += owned

    def _put(self, event: UsageEvent, claim: dict[str, Any]) -> dict[str, Any] | str | None:
        """None: written; the item found; or "retry" when the put itself failed."""
        try:
            return write_ledger(self.client, self.table, event, claim)
        except Exception:
            logger.exception("usage event %s: ledger put failed", event.request_id)
            return "retry"

    def _settle_claim(
        self, event: UsageEvent, old: dict[str, Any] | str | None
    ) -> Literal["owned", "duplicate", "retry"]:
        for _ in range(3):  # each round follows a claim someone else just changed
            if old is None:
                return "owned"
            if old == "retry":  # the put may have landed: read what is there
                old = self._read_ledger(event) or "retry"
                if old == "retry":
                    return "retry"
                continue
            assert isinstance(old, dict)
            other = old.get("batch")
            if other is None:
                return "duplicate"  # recorded with its counters, one request at a time
            if other == self.id:
                return "owned"
            seal = self._seal_of(str(other), int(old.get("batch_at", 0)))
            if seal is None:
                return "retry"  # its invocation may still be running
            if seal["state"] == "sealed" and event.request_id in seal["members"]:
                self._finish(str(other), seal)
                return "duplicate"
            old = self._reclaim(event, str(other))
        return "retry"

    def _read_ledger(self, event: UsageEvent) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=ledger_key(event.request_id), ConsistentRead=True
        )
        return from_item(response["Item"]) if "Item" in response else None

    def _seal_of(self, other: str, claimed_at: int) -> dict[str, Any] | None:
        """Batch `other`'s seal (voiding it first when its lease has run out); None while
        its invocation may still seal it."""
        if self._seals.get(other) is None:
            self._seals[other] = self._read_seal(other)
        if self._seals[other] is None and self.now() - claimed_at > LEASE_SECONDS:
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=to_item(
                        {
                            **from_item(batch_key(other, "SEAL")),
                            "state": "void",
                            "expires_at": int(self.now() + BATCH_RETENTION_SECONDS),
                        }
                    ),
                    ConditionExpression="attribute_not_exists(pk)",
                )
                self._seals[other] = {"state": "void"}
            except self.client.exceptions.ConditionalCheckFailedException:
                self._seals[other] = self._read_seal(other)  # sealed in the meantime
        return self._seals[other]

    def _read_seal(self, other: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=batch_key(other, "SEAL"), ConsistentRead=True
        )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        if item["state"] == "sealed":
            item["members"] = set(item["members"])
        return item

    def _reclaim(self, event: UsageEvent, other: str) -> dict[str, Any] | None:
        """Move the ledger item's claim from `other` (void, or sealed without it) to this
        batch; None when moved, else the item as it now is."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=ledger_key(event.request_id),
                UpdateExpression="SET #batch = :mine, batch_at = :at",
                ConditionExpression="#batch = :other",
                ExpressionAttributeNames={"#batch": "batch"},
                ExpressionAttributeValues=to_item(
                    {":mine": self.id, ":at": int(self.now()), ":other": other}
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            return from_item(exc.response.get("Item") or {}) or self._read_ledger(event)
        return None

    def _finish(self, other: str, seal: dict[str, Any]) -> None:
        """Apply what is left of a sealed batch (nothing, almost always)."""
        if seal.get("finished"):
            return
        response = self.client.get_item(
            TableName=self.table, Key=batch_key(other, "DONE"), ConsistentRead=True
        )
        done = int(from_item(response.get("Item") or {}).get("done", 0))
        if done < int(seal["chunks"]):
            batch_chunks = _decode(getattr(seal["deltas"], "value", seal["deltas"]))
            for k in range(done, len(batch_chunks)):
                apply_chunk(self.client, self.table, other, k, batch_chunks[k], self.now())
        seal["finished"] = True

    def _count(self, owned: list[UsageEvent]) -> None:
        batch_chunks = chunks(owned)
        self.client.put_item(
            TableName=self.table,
            Item=to_item(
                {
                    **from_item(batch_key(self.id, "SEAL")),
                    "state": "sealed",
                    "members": {event.request_id for event in owned},
                    "chunks": len(batch_chunks),
                    "deltas": _encode(batch_chunks),
                    "expires_at": int(self.now() + BATCH_RETENTION_SECONDS),
                }
            ),
            ConditionExpression="attribute_not_exists(pk)",  # fails if voided: not counted
        )
        for k, chunk in enumerate(batch_chunks):
            apply_chunk(self.client, self.table, self.id, k, chunk, self.now())
