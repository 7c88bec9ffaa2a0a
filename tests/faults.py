"""A fault layer for AWS semantics that moto does not emulate.

`FaultyDynamoDB` wraps a real boto3 DynamoDB client (on moto) and, at a given rate, makes a
call fail the way real DynamoDB does: a transaction cancelled for `TransactionConflict`,
throttling (`ThrottlingException`, `ProvisionedThroughputExceededException`), a 500, a
timeout before the call reached DynamoDB, or, the hardest case, a timeout after it committed.
`FaultySender` does the same to the usage publisher's SQS sender: 5xx, a timeout before or
after SQS accepted the batch, and entries refused inside a successful SendMessageBatch.
Faults are drawn from a seeded `random.Random`, so a run is reproducible; `counts` says what
was injected.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import httpx
from botocore.exceptions import ClientError, ReadTimeoutError

DYNAMODB_KINDS = ("conflict", "throttle", "throughput", "500", "timeout", "timeout_after")
#: the calls the accounting path makes that may fail (reads too: a throttled GetItem)
DYNAMODB_CALLS = frozenset(
    {"transact_write_items", "update_item", "put_item", "get_item", "delete_item", "query"}
)
SQS_KINDS = ("500", "timeout", "timeout_after", "refused_entries")


class FaultyDynamoDB:
    def __init__(
        self,
        client: Any,
        rate: float,
        seed: int = 15,
        kinds: tuple[str, ...] = DYNAMODB_KINDS,
        calls: frozenset[str] = DYNAMODB_CALLS,
    ) -> None:
        self._client = client
        self.rate = rate
        self.kinds = kinds
        self.calls = calls
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in self.calls:
            return attribute

        def call(**kwargs: Any) -> Any:
            kind = self._draw(name)
            if kind is None:
                return attribute(**kwargs)
            if kind == "timeout_after":  # it happened; the caller cannot know
                attribute(**kwargs)
            raise self._error(kind, name, kwargs)

        return call

    def _draw(self, name: str) -> str | None:
        with self._lock:
            if self.rng.random() >= self.rate:
                return None
            kinds = [k for k in self.kinds if k != "conflict" or name == "transact_write_items"]
            kind = self.rng.choice(kinds)
            self.counts[kind] += 1
            return kind

    def _error(self, kind: str, operation: str, kwargs: dict[str, Any]) -> Exception:
        if kind in ("timeout", "timeout_after"):
            return ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        if kind == "conflict":
            reasons = [{"Code": "None"} for _ in kwargs.get("TransactItems", [])]
            reasons[self.rng.randrange(len(reasons))] = {
                "Code": "TransactionConflict",
                "Message": "Transaction is ongoing for the item",
            }
            return self._client.exceptions.TransactionCanceledException(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        code, status = {
            "throttle": ("ThrottlingException", 400),
            "throughput": ("ProvisionedThroughputExceededException", 400),
            "500": ("InternalServerError", 500),
        }[kind]
        return ClientError(
            {
                "Error": {"Code": code, "Message": f"injected {kind}"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            operation,
        )


class FaultySender:
    """The publisher's SendMessageBatch sender, failing at `rate` as SQS can."""

    def __init__(self, sender: Any, rate: float, seed: int = 16) -> None:
        self.sender = sender
        self.rate = rate
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()

    async def send(self, bodies: list[str]) -> set[int]:
        if self.rng.random() >= self.rate:
            return set(await self.sender.send(bodies))
        kind = self.rng.choice(SQS_KINDS)
        self.counts[kind] += 1
        if kind == "500":
            raise httpx.HTTPStatusError(
                "injected 500",
                request=httpx.Request("POST", "https://sqs.us-east-1.amazonaws.com"),
                response=httpx.Response(500),
            )
        if kind == "timeout":
            raise httpx.ReadTimeout("injected timeout before SQS had the batch")
        if kind == "timeout_after":  # SQS has the batch: the direct write duplicates it
            await self.sender.send(bodies)
            raise httpx.ReadTimeout("injected timeout after SQS took the batch")
        refused = {i for i in range(len(bodies)) if self.rng.random() < 0.5}
        taken = [i for i in range(len(bodies)) if i not in refused]
        failed = await self.sender.send([bodies[i] for i in taken]) if taken else set()
        return refused | {taken[i] for i in failed}
