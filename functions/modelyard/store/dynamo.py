"""Conversion between DynamoDB's typed attribute values and plain Python values."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterator, Mapping
from decimal import Decimal
from functools import cache
from typing import Any


@cache
def _codecs() -> tuple[Any, Any]:
    """boto3's (de)serialisers, imported on first use: importing boto3 costs ~0.1 s of cold
    start that a request served from the caches never needs."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    serialize = _codecs()[0].serialize
    return {k: serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    deserialize = _codecs()[1].deserialize
    return {k: deserialize(v) for k, v in item.items()}


def query_all(client: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a Query, following pagination."""
    while True:
        page = client.query(**kwargs)
        for item in page.get("Items", ()):
            yield from_item(item)
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


def as_int(value: Any, default: int = 0) -> int:
    return int(value) if isinstance(value, int | Decimal) else default


def write_batch(client: Any, table: str, requests: list[dict[str, Any]]) -> int:
    """One BatchWriteItem of at most 25 Put/DeleteRequests, retrying unprocessed items with
    backoff; returns how many were written."""
    pending: dict[str, Any] = {table: requests}
    for delay in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6):
        time.sleep(delay)
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems", {})
        if not pending:
            return len(requests)
    raise RuntimeError("DynamoDB left items unprocessed after retries")


def pack(value: Any) -> bytes:
    """`value` as zlib-compressed compact JSON: how UsageTable keeps a large body (cheaper
    writes and reads, and more of it fits DynamoDB's 400 KB item)."""
    return zlib.compress(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), 6)


def unpack(packed: Any) -> Any:
    """What `pack` packed (raises ValueError or zlib.error for anything else)."""
    return json.loads(zlib.decompress(bytes(packed)))
