"""UsageTable rate-limit windows: requests and tokens per key per minute, across instances.

One item per key and minute (pk `RATE#KEY#<key id>`, sk `MIN#<YYYY-MM-DDTHH:MM>`) holds
`requests` and `tokens`. Taking a request is one conditional UpdateItem, as for budgets
(store/budgets.py): `ADD requests 1, tokens :estimate` only if the window still has room for
both, so concurrent routers can never admit more than the limit between them. The token count
is corrected to the real usage when the request ends (an unconditional ADD of the difference).
Items expire by TTL a few minutes after their minute.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from modelyard.store.dynamo import as_int, from_item, to_item

#: how long a minute's item is kept after the minute ends (seconds)
WINDOW_RETENTION_SECONDS = 300


class WindowCount(NamedTuple):
    """What one key's minute has counted so far."""

    requests: int
    tokens: int


def _count(attributes: dict[str, Any]) -> WindowCount:
    counted = from_item(attributes)
    return WindowCount(as_int(counted.get("requests")), as_int(counted.get("tokens")))


class RateLimitStore:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def _key(self, scope: str, window: str) -> dict[str, Any]:
        return to_item({"pk": f"RATE#{scope}", "sk": window})

    def take(
        self,
        scope: str,
        window: str,
        tokens: int,
        rpm: int | None,
        tpm: int | None,
        expires: int,
    ) -> WindowCount | None:
        """Count one request and `tokens` in the window and return the window's counts after
        it; None (nothing counted) when that would pass `rpm` requests or `tpm` tokens."""
        if tpm is not None and tokens > tpm:
            return None
        conditions = []
        values: dict[str, Any] = {":one": 1, ":tokens": tokens, ":ttl": expires}
        if rpm is not None:
            conditions.append("(attribute_not_exists(requests) OR requests < :rpm)")
            values[":rpm"] = rpm
        if tpm is not None:
            conditions.append("(attribute_not_exists(tokens) OR tokens <= :headroom)")
            values[":headroom"] = tpm - tokens
        kwargs: dict[str, Any] = {}
        if conditions:
            kwargs["ConditionExpression"] = " AND ".join(conditions)
        try:
            updated = self.client.update_item(
                TableName=self.table,
                Key=self._key(scope, window),
                UpdateExpression="ADD requests :one, tokens :tokens SET expires_at = :ttl",
                ExpressionAttributeValues=to_item(values),
                ReturnValues="UPDATED_NEW",
                **kwargs,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return _count(updated.get("Attributes") or {})

    def count(self, scope: str, window: str) -> WindowCount:
        """The window's counts as they stand (for a refusal's headers)."""
        item = self.client.get_item(
            TableName=self.table, Key=self._key(scope, window), ConsistentRead=True
        ).get("Item")
        return _count(item or {})

    def add_tokens(self, scope: str, window: str, delta: int) -> None:
        """Correct the window's token count by `delta` (real usage minus the estimate)."""
        self.client.update_item(
            TableName=self.table,
            Key=self._key(scope, window),
            UpdateExpression="ADD tokens :delta",
            ExpressionAttributeValues=to_item({":delta": delta}),
        )
