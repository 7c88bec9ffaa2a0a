"""Responses kept for `previous_response_id` and `GET /v1/responses/{id}`, in UsageTable.

Item layout (pk / sk):
  RESPONSE#<tenant>#<response id> / RESPONSE     one response (TTL `expires_at`)

The tenant is part of the key, so another tenant's id is simply absent (404), and every
response is its own partition (no tenant's chatty agents make a hot one). The item holds, as
zlib-compressed JSON, the response object, its own input items (for `input_items`) and the
whole conversation up to and including it as chat messages (`context`), so continuing a
conversation is one GetItem however long the chain. A conversation too large for DynamoDB's
400 KB item, even compressed, is not stored (never truncated), and the caller is told.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from modelyard.store.contention import Retrying
from modelyard.store.dynamo import as_int, from_item, pack, to_item, unpack
from modelyard.store.schema import TTL_ATTRIBUTE

PREFIX = "RESPONSE#"
SORT_KEY = "RESPONSE"
#: as long as OpenAI keeps a stored response
TTL_SECONDS = 30 * 24 * 3600
#: the compressed body's budget within DynamoDB's 400 KB item (the rest: keys, metadata)
MAX_PACKED_BYTES = 380_000


@dataclass(frozen=True, slots=True)
class StoredResponse:
    response: dict[str, Any]
    input_items: list[dict[str, Any]]
    #: the conversation so far, through this response's output, as chat messages
    context: list[dict[str, Any]]


class StoredResponses:
    """Puts and reads are tried again on DynamoDB's transient refusals (store.contention):
    writing the same response twice is harmless, and real DynamoDB throttles and times out
    where moto never does. A delete is tried once: its condition cannot tell a retry of a
    delete that committed from a response that never existed."""

    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client
        self.retrying = Retrying(client)

    def _key(self, tenant: str, response_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"{PREFIX}{tenant}#{response_id}"}, "sk": {"S": SORT_KEY}}

    def put(self, tenant: str, stored: StoredResponse, now: float | None = None) -> bool:
        """Keep `stored` for `TTL_SECONDS`; False (nothing written) when it is too large."""
        body = {
            "response": stored.response,
            "input_items": stored.input_items,
            "context": stored.context,
        }
        packed = pack(body)
        if len(packed) > MAX_PACKED_BYTES:
            return False
        now = now or time.time()
        item = to_item({"body": packed, "tenant": tenant, TTL_ATTRIBUTE: int(now + TTL_SECONDS)})
        self.retrying.put_item(
            TableName=self.table, Item={**self._key(tenant, stored.response["id"]), **item}
        )
        return True

    def get(self, tenant: str, response_id: str, now: float | None = None) -> StoredResponse | None:
        """The tenant's response `response_id`, unless absent or expired (TTL deletion lags)."""
        found = self.retrying.get_item(TableName=self.table, Key=self._key(tenant, response_id))
        if "Item" not in found:
            return None
        item = from_item(found["Item"])
        if as_int(item.get(TTL_ATTRIBUTE)) <= (now or time.time()):
            return None
        body = unpack(item["body"])
        return StoredResponse(body["response"], body["input_items"], body["context"])

    def delete(self, tenant: str, response_id: str) -> bool:
        """Delete it; False when the tenant has no such response."""
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=self._key(tenant, response_id),
                ConditionExpression="attribute_exists(pk)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
