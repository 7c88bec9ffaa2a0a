"""An in-memory DynamoDB that counts what a workload would cost and where it would throttle.

Only what aggregation sends (PutItem, UpdateItem, GetItem, TransactWriteItems; conditions
`attribute_exists`, `attribute_not_exists`, `a = :v` joined by AND; updates with ADD, SET,
REMOVE): enough to run the real `usage.aggregate` and `usage.batches` code at a day's traffic
in seconds, which moto cannot. Each write is counted as DynamoDB bills it: one write unit per
started KB of the larger of the item's old and new size, twice inside a transaction, also when
its condition fails; per item and per second of the caller's clock (`clock`), so the load
model can show the hottest item's writes a second.
"""

from __future__ import annotations

import copy
import math
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

Key = tuple[str, str]


class _Exceptions:
    class ConditionalCheckFailedException(ClientError):
        pass

    class TransactionCanceledException(ClientError):
        pass


@dataclass
class Counts:
    """What the workload sent, as billed."""

    write_units: int = 0
    read_units: float = 0
    transactions: int = 0
    writes: int = 0  #: item writes, inside transactions or not
    failed_conditions: int = 0
    per_item_second: Counter[tuple[Key, int]] = field(default_factory=Counter)
    #: write units per partition key and second: DynamoDB serves a partition at most 1,000 a
    #: second, and every item of one partition key starts in one partition
    units_per_key_second: Counter[tuple[str, int]] = field(default_factory=Counter)

    def hottest(self, skip: tuple[str, ...] = ()) -> tuple[Key, int]:
        """The item written most often in one second, and how often; `skip`: pk prefixes."""
        for (key, _), writes in self.per_item_second.most_common():
            if not key[0].startswith(skip):
                return key, writes
        return ("", ""), 0


class RecordingDynamoDB:
    """A boto3-shaped DynamoDB client over one dict; thread-safe."""

    exceptions = _Exceptions

    def __init__(self, clock: Callable[[], float]) -> None:
        self.items: dict[Key, dict[str, Any]] = {}
        self.counts = Counts()
        self.clock = clock
        self._lock = threading.Lock()

    # -- the client surface
    def get_item(self, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        with self._lock:
            item = self.items.get(_key(Key))
            self.counts.read_units += max(1, math.ceil(_size(item or {}) / 4096))
            return {"Item": copy.deepcopy(item)} if item is not None else {}

    def put_item(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self._apply([("Put", request)], transactional=False)
        return {}

    def update_item(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self._apply([("Update", request)], transactional=False)
        return {}

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            self.counts.transactions += 1
            self._apply([next(iter(op.items())) for op in TransactItems], transactional=True)
        return {}

    # -- what they do
    def _apply(self, ops: list[tuple[str, dict[str, Any]]], transactional: bool) -> None:
        second = int(self.clock())
        results: list[tuple[Key, dict[str, Any] | None]] = []
        reasons: list[dict[str, Any]] = []
        for kind, request in ops:
            key = _key(request["Item"] if kind == "Put" else request["Key"])
            old = self.items.get(key)
            ok = _holds(request.get("ConditionExpression"), old, request)
            new = _after(kind, request, old) if ok else old
            units = max(1, math.ceil(max(_size(old or {}), _size(new or {})) / 1024))
            billed = units * (2 if transactional else 1)
            self.counts.write_units += billed
            self.counts.units_per_key_second[(key[0], second)] += billed
            self.counts.writes += 1
            self.counts.per_item_second[(key, second)] += 1
            reason: dict[str, Any] = {"Code": "None"}
            if not ok:
                self.counts.failed_conditions += 1
                reason = {"Code": "ConditionalCheckFailed"}
                if request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and old:
                    reason["Item"] = copy.deepcopy(old)
            reasons.append(reason)
            results.append((key, new))
        failed = [r for r in reasons if r["Code"] != "None"]
        if failed and transactional:
            cancelled: Any = {
                "Error": {"Code": "TransactionCanceledException"},
                "CancellationReasons": reasons,
            }
            raise self.exceptions.TransactionCanceledException(cancelled, "TransactWriteItems")
        if failed:
            error: Any = {"Error": {"Code": "ConditionalCheckFailedException"}, **failed[0]}
            raise self.exceptions.ConditionalCheckFailedException(error, "Write")
        for key, new in results:
            if new is not None:
                self.items[key] = new


def _key(item: dict[str, Any]) -> Key:
    return item["pk"]["S"], item["sk"]["S"]


def _size(item: dict[str, Any]) -> int:
    """DynamoDB's item size, closely enough: names plus values (numbers ~ half their digits)."""
    return sum(len(name) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner) // 2 + 2
    if kind == "B":
        return len(inner)
    if kind in ("SS", "NS"):
        return sum(len(v) for v in inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k) + 1 + _value_size(v) for k, v in inner.items())
    return 1


def _name(token: str, request: dict[str, Any]) -> str:
    return str(request.get("ExpressionAttributeNames", {}).get(token, token))


def _holds(condition: str | None, item: dict[str, Any] | None, request: dict[str, Any]) -> bool:
    if not condition:
        return True
    values = request.get("ExpressionAttributeValues", {})
    for clause in condition.split(" AND "):
        clause = clause.strip()
        if found := re.fullmatch(r"attribute_(not_)?exists\((\S+)\)", clause):
            exists = item is not None and _name(found[2], request) in item
            if exists == bool(found[1]):
                return False
        elif found := re.fullmatch(r"(\S+) = (:\w+)", clause):
            if item is None or item.get(_name(found[1], request)) != values[found[2]]:
                return False
        else:
            raise NotImplementedError(f"condition {clause!r}")
    return True


def _after(kind: str, request: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    if kind == "Put":
        return copy.deepcopy(request["Item"])
    item = copy.deepcopy(old) if old else dict(request["Key"])
    values = request.get("ExpressionAttributeValues", {})
    expression = request["UpdateExpression"]
    for verb, body in re.findall(r"(ADD|SET|REMOVE) (.*?)(?= (?:ADD|SET|REMOVE) |$)", expression):
        for clause in (c.strip() for c in body.split(",")):
            if verb == "REMOVE":
                item.pop(_name(clause, request), None)
                continue
            name, _, value = clause.replace(" = ", " ").partition(" ")
            name, given = _name(name, request), values[value]
            if verb == "ADD" and name in item:
                total = Decimal(item[name]["N"]) + Decimal(given["N"])
                item[name] = {"N": str(total)}
            else:
                item[name] = copy.deepcopy(given)
    return item
