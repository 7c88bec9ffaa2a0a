"""Aggregation: a usage event becomes one ledger item and its counters, exactly once.

One TransactWriteItems puts the ledger item only if it does not exist yet and ADDs the same
amounts to every counter, so a redelivered event changes nothing and a failed one changes
nothing either: counters always equal the sum of the ledger.

UsageTable layout (pk / sk):
  REQ#<request id> / LEDGER                     the ledger item (TTL `expires_at`)
  TENANT#<tenant>  / DAY#<d> | MONTH#<m>        tenant totals
  TENANT#<tenant>  / DAY#<d>#MODEL#<model>      tenant per model per day
  KEY#<key id>     / DAY#<d> | MONTH#<m>        key totals
  MODEL#<model>    / DAY#<d>                    model totals across tenants
"""

from __future__ import annotations

import time
from typing import Any, Literal

from modelyard.store.dynamo import to_item
from modelyard.usage.events import UsageEvent

LEDGER_RETENTION_SECONDS = 400 * 24 * 3600


def counter_keys(event: UsageEvent) -> list[tuple[str, str]]:
    keys = [
        (f"TENANT#{event.tenant}", f"DAY#{event.day}"),
        (f"TENANT#{event.tenant}", f"MONTH#{event.month}"),
        (f"KEY#{event.key_id}", f"DAY#{event.day}"),
        (f"KEY#{event.key_id}", f"MONTH#{event.month}"),
    ]
    if event.model:
        keys.append((f"TENANT#{event.tenant}", f"DAY#{event.day}#MODEL#{event.model}"))
        keys.append((f"MODEL#{event.model}", f"DAY#{event.day}"))
    return keys


def ledger_item(event: UsageEvent, now: float | None = None) -> dict[str, Any]:
    values = event.model_dump(mode="python", exclude={"attempts", "version"})
    values["attempts"] = [a.model_dump() for a in event.attempts]
    return {
        "pk": f"REQ#{event.request_id}",
        "sk": "LEDGER",
        **values,
        "expires_at": int((now or time.time()) + LEDGER_RETENTION_SECONDS),
    }


def transaction(table: str, event: UsageEvent) -> list[dict[str, Any]]:
    """The TransactWriteItems items that record `event`."""
    amounts = {
        ":cost": event.cost_usd,
        ":requests": 1,
        ":input": event.input_tokens,
        ":output": event.output_tokens,
        ":failed": 0 if event.status in ("ok", "partial") else 1,
    }
    update = (
        "ADD cost_usd :cost, requests :requests, input_tokens :input, "
        "output_tokens :output, failed_requests :failed"
    )
    items: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table,
                "Item": to_item(ledger_item(event)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]
    for pk, sk in counter_keys(event):
        items.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": to_item({"pk": pk, "sk": sk}),
                    "UpdateExpression": update,
                    "ExpressionAttributeValues": to_item(amounts),
                }
            }
        )
    return items


def record(client: Any, table: str, event: UsageEvent) -> Literal["recorded", "duplicate"]:
    """Write `event` once; a second delivery of the same request id is a no-op."""
    try:
        client.transact_write_items(TransactItems=transaction(table, event))
    except client.exceptions.TransactionCanceledException as exc:
        reasons = exc.response.get("CancellationReasons") or []
        if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
            return "duplicate"
        raise
    return "recorded"
