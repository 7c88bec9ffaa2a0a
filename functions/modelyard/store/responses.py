"""Cached responses in UsageTable (see `modelyard.cache.policy` for when they are used).

Item layout (pk / sk):
  CACHE#<tenant> / <sha-256 of tenant + request>     one answer (TTL `expires_at`)

One partition per tenant, so a purge is one Query and batched deletes; the hash spreads a
tenant's entries evenly across the partition's sort keys. The answer is stored as zlib-
compressed JSON (binary), always: cheaper writes and reads, and a long answer still fits
DynamoDB's 400 KB item limit; one that does not fit even compressed is not stored (never
truncated). A hit is one GetItem; TTL deletion lags, so reads check `expires_at` themselves.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from modelyard.pricing.prices import TokenUsage
from modelyard.store.dynamo import (
    as_int,
    from_item,
    pack,
    query_all,
    to_item,
    unpack,
    write_batch,
)
from modelyard.store.schema import TTL_ATTRIBUTE

logger = logging.getLogger("modelyard.cache")

CACHE_PREFIX = "CACHE#"
#: the compressed answer's budget within DynamoDB's 400 KB item (the rest: keys, metadata)
MAX_BODY_BYTES = 380_000


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """One stored answer and what the original request cost (the saving of each hit)."""

    body: dict[str, Any]
    model: str
    provider: str
    cost_usd: Decimal
    usage: TokenUsage
    created_at: float
    source_request_id: str = ""
    price_version: str | None = None

    def age(self, now: float | None = None) -> int:
        return max(0, int((now or time.time()) - self.created_at))


class ResponseCacheStore:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def get(
        self, tenant: str, key: str, max_age: int, now: float | None = None
    ) -> CachedResponse | None:
        """The entry for `key` if it exists, has not expired and is at most `max_age` old."""
        response = self.client.get_item(
            TableName=self.table,
            Key={"pk": {"S": CACHE_PREFIX + tenant}, "sk": {"S": key}},
        )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        now = now or time.time()
        created = float(item.get("created_at", 0))
        if as_int(item.get(TTL_ATTRIBUTE)) <= now or now - created > max_age:
            return None
        try:
            body = unpack(item["body"])
        except (KeyError, ValueError, zlib.error):
            logger.warning("unreadable cache entry %s for tenant %s", key, tenant)
            return None
        return CachedResponse(
            body=body,
            model=str(item.get("model", "")),
            provider=str(item.get("provider", "")),
            cost_usd=Decimal(str(item.get("cost_usd", 0))),
            usage=TokenUsage(
                input_tokens=as_int(item.get("input_tokens")),
                output_tokens=as_int(item.get("output_tokens")),
                cached_tokens=as_int(item.get("cached_tokens")),
                cache_write_tokens=as_int(item.get("cache_write_tokens")),
                reasoning_tokens=as_int(item.get("reasoning_tokens")),
            ),
            created_at=created,
            source_request_id=str(item.get("source_request_id", "")),
            price_version=item.get("price_version"),
        )

    def put(
        self, tenant: str, key: str, entry: CachedResponse, ttl: int, now: float | None = None
    ) -> bool:
        """Store `entry` for `ttl` seconds; False (nothing written) when it is too large."""
        packed = pack(entry.body)
        if len(packed) > MAX_BODY_BYTES:
            logger.info(
                "not caching %s: %d bytes compressed exceeds %d", key, len(packed), MAX_BODY_BYTES
            )
            return False
        now = now or time.time()
        usage = entry.usage
        self.client.put_item(
            TableName=self.table,
            Item=to_item(
                {
                    "pk": CACHE_PREFIX + tenant,
                    "sk": key,
                    "tenant": tenant,
                    "body": packed,
                    "encoding": "zlib+json",
                    "model": entry.model,
                    "provider": entry.provider,
                    "cost_usd": entry.cost_usd,
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "cached_tokens": usage.cached_tokens,
                    "cache_write_tokens": usage.cache_write_tokens,
                    "reasoning_tokens": usage.reasoning_tokens,
                    "price_version": entry.price_version,
                    "source_request_id": entry.source_request_id,
                    "created_at": Decimal(str(round(now, 3))),
                    TTL_ATTRIBUTE: int(now + ttl),
                }
            ),
        )
        return True

    def purge(self, tenant: str) -> int:
        """Delete every entry of `tenant` (one Query, batched deletes); returns the count."""
        keys = [
            {"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}}
            for item in query_all(
                self.client,
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": CACHE_PREFIX + tenant}},
                ProjectionExpression="pk, sk",
            )
        ]
        for start in range(0, len(keys), 25):
            write_batch(
                self.client,
                self.table,
                [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]],
            )
        return len(keys)
