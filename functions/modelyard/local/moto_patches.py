"""A fix for moto's DynamoDB transactions, for the local stack and the tests only.

moto 5.2 backs up a transaction by deep-copying the whole table once per item in it, so every
TransactWriteItems costs time in proportion to the table's size times the transaction's
length: after a few thousand requests the local aggregator takes seconds per event. This keeps
moto's semantics (all or nothing) by snapshotting only the items the transaction touches and
restoring them if it is cancelled. Nothing in the deployed code path uses it.

Scan and Query answers are written as JSON directly: moto 5.2 walks the service model for
every attribute of every item it returns (about 20 ms an item on a busy 2-core machine), so a
1 MB page took longer than the clients' 5 s read timeout once a test session's table held a
few thousand ledger items. Their items are DynamoDB JSON already.

moto's server also runs concurrent requests on threads with nothing serialising them, so a
cancelled transaction's restore could undo another request's write to the same item (a
counter ADD lost while its ledger item stays). Real DynamoDB isolates transactions from each
other and from single-item writes; here one lock serialises them, which is that isolation.

It also makes moto's number arithmetic (`ADD`, `SET a = a + :x`) read every number DynamoDB
accepts: moto parses an operand without a "." with `int()`, so an amount that boto3 serialises
in exponent form (a cost of 2E-8, a re-pricing difference of -5E-7) fails the update, where
DynamoDB adds it exactly.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_INSTALLED = False
#: serialises moto's DynamoDB writes (transactions and single items) across server threads
_WRITES = threading.RLock()


def _serialised(write: Any) -> Any:
    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _WRITES:
            return write(self, *args, **kwargs)

    return serialised


def install() -> None:
    """Patch moto's DynamoDB backend in this process (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    real_deepcopy = copy.deepcopy

    class _NoTableCopy:
        """moto's module-level `copy`: tables are no longer copied (we snapshot items)."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else real_deepcopy(value, memo)

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _WRITES:
            _transact(self, transact_items)

    def _transact(self: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshots = []
        for entry in transact_items:
            operation = next(iter(entry.values()))
            table = self.tables.get(operation.get("TableName"))
            if table is None:
                continue
            key = operation.get("Key") or {
                name: operation["Item"][name]
                for name in (table.hash_key_attr, table.range_key_attr)
                if name is not None and name in operation.get("Item", {})
            }
            try:
                hash_key, range_key = self.get_keys_value(table, key)
            except Exception:
                continue  # moto itself will reject the malformed key
            before = table.get_item(hash_key, range_key)
            snapshots.append((table, hash_key, range_key, real_deepcopy(before)))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, before in reversed(snapshots):
                _restore(table, hash_key, range_key, before)
            raise

    models.copy = _NoTableCopy  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    for name in ("put_item", "update_item", "delete_item"):
        setattr(models.DynamoDBBackend, name, _serialised(getattr(models.DynamoDBBackend, name)))
    _exact_number_arithmetic()
    _plain_json_reads()
    _INSTALLED = True


def _exact_number_arithmetic() -> None:
    """Number + and - in moto's DynamoType as Decimal, whatever the operands' notation."""
    from decimal import Decimal

    from moto.dynamodb.models.dynamo_type import DynamoType

    original_add, original_sub = DynamoType.__add__, DynamoType.__sub__

    def plain(value: Decimal) -> str:
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text

    def add(self: Any, other: Any) -> Any:
        if self.is_number() and getattr(other, "is_number", lambda: False)():
            return DynamoType({"N": plain(Decimal(self.value) + Decimal(other.value))})
        return original_add(self, other)

    def sub(self: Any, other: Any) -> Any:
        if self.is_number() and getattr(other, "is_number", lambda: False)():
            return DynamoType({"N": plain(Decimal(self.value) - Decimal(other.value))})
        return original_sub(self, other)

    DynamoType.__add__ = add  # type: ignore[method-assign]
    DynamoType.__sub__ = sub  # type: ignore[method-assign]


def _plain_json_reads() -> None:
    import base64
    import json

    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    def encode(value: Any) -> Any:
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        raise TypeError(f"not JSON: {type(value).__name__}")

    def plain(read: Any) -> Any:
        def answer(self: Any) -> Any:
            result = read(self)
            if isinstance(result, DynamoResult):
                return json.dumps(result.result, default=encode)
            return result

        return answer

    DynamoHandler.scan = plain(DynamoHandler.scan)  # type: ignore[method-assign]
    DynamoHandler.query = plain(DynamoHandler.query)  # type: ignore[method-assign]


def _restore(table: Any, hash_key: Any, range_key: Any, before: Any) -> None:
    if before is None:
        if table.get_item(hash_key, range_key) is not None:
            table.delete_item(hash_key, range_key)
    elif range_key is not None:
        table.items[hash_key][range_key] = before
    else:
        table.items[hash_key] = before
