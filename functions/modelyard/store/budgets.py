"""UsageTable budget windows: reservations taken at admission, settled after the request.

One item per scope and window (pk `BUDGET#TENANT#<t>` or `BUDGET#KEY#<k>`, sk `DAY#<d>` or
`MONTH#<m>`) holds `committed` = settled spend + live reservations, and one attribute
`r_<request id>` per live reservation: `{amount, expires}`. Every change is one conditional
UpdateItem, so concurrent routers cannot overshoot a limit by more than what is in flight:

- reserve: `ADD committed :amount SET r_<id>` if `committed <= limit - amount`;
- settle: `ADD committed :actual - :amount REMOVE r_<id>` if the reservation still exists
  (the router settles its own requests; the aggregator settles a job's, in the transaction
  that ledgers it, so a redelivered event cannot settle twice);
- expire: a reservation whose router died is removed (and its amount given back) by the next
  admission that finds the window full, on the same condition, so it is released once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from modelyard.store.dynamo import from_item, to_item

RESERVATION_PREFIX = "r_"


@dataclass(frozen=True, slots=True)
class Reservation:
    """An amount held in one budget window (scope `TENANT#<t>` or `KEY#<k>`, window
    `DAY#<d>` or `MONTH#<m>`) until its request settles."""

    scope: str
    window: str
    amount: Decimal


def budget_key(scope: str, window: str) -> dict[str, Any]:
    return to_item({"pk": f"BUDGET#{scope}", "sk": window})


def settle_update(
    table: str, reservation: Reservation, request_id: str, actual: Decimal, lapsed: bool = False
) -> dict[str, Any]:
    """The update (an UpdateItem's arguments, or a transaction's Update) that replaces the
    reservation by the real cost while it exists; `lapsed`: it expired and was given back
    already, so the cost alone is added."""
    key = budget_key(reservation.scope, reservation.window)
    if lapsed:
        return {
            "TableName": table,
            "Key": key,
            "UpdateExpression": "ADD committed :actual",
            "ExpressionAttributeValues": to_item({":actual": actual}),
        }
    return {
        "TableName": table,
        "Key": key,
        "UpdateExpression": "ADD committed :delta REMOVE #r",
        "ConditionExpression": "attribute_exists(#r)",
        "ExpressionAttributeNames": {"#r": RESERVATION_PREFIX + request_id},
        "ExpressionAttributeValues": to_item({":delta": actual - reservation.amount}),
    }


class BudgetStore:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def reserve(
        self,
        scope: str,
        window: str,
        request_id: str,
        amount: Decimal,
        limit: Decimal | None,
        hold_seconds: int,
        window_expires: int,
    ) -> Decimal | None:
        """Take `amount` out of the window and return the window's new `committed`; None when
        that would pass `limit` (a None limit always succeeds: soft budgets only track)."""
        if limit is not None and amount > limit:
            return None
        values: dict[str, Any] = {
            ":amount": amount,
            ":reservation": {"amount": amount, "expires": int(time.time()) + hold_seconds},
            ":ttl": window_expires,
        }
        kwargs: dict[str, Any] = {}
        if limit is not None:
            kwargs["ConditionExpression"] = (
                "attribute_not_exists(committed) OR committed <= :headroom"
            )
            values[":headroom"] = limit - amount
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=budget_key(scope, window),
                UpdateExpression="ADD committed :amount SET #r = :reservation, expires_at = :ttl",
                ExpressionAttributeNames={"#r": RESERVATION_PREFIX + request_id},
                ExpressionAttributeValues=to_item(values),
                ReturnValues="UPDATED_NEW",
                **kwargs,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return Decimal(from_item(response["Attributes"])["committed"])

    def settle(self, reservation: Reservation, request_id: str, actual: Decimal) -> None:
        """Replace the reservation by the real cost (once; a lapsed one adds the cost alone)."""
        try:
            self.client.update_item(**settle_update(self.table, reservation, request_id, actual))
        except self.client.exceptions.ConditionalCheckFailedException:
            if actual:
                self.client.update_item(
                    **settle_update(self.table, reservation, request_id, actual, lapsed=True)
                )

    def release_expired(self, scope: str, window: str) -> int:
        """Give back the reservations of requests that never settled; returns how many."""
        response = self.client.get_item(
            TableName=self.table, Key=budget_key(scope, window), ConsistentRead=True
        )
        item = from_item(response.get("Item") or {})
        now = time.time()
        released = 0
        for name, value in item.items():
            if not name.startswith(RESERVATION_PREFIX) or value.get("expires", now) > now:
                continue
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=budget_key(scope, window),
                    UpdateExpression="ADD committed :back REMOVE #r",
                    ConditionExpression="attribute_exists(#r)",
                    ExpressionAttributeNames={"#r": name},
                    ExpressionAttributeValues=to_item({":back": -Decimal(value["amount"])}),
                )
                released += 1
            except self.client.exceptions.ConditionalCheckFailedException:
                continue  # another router released it first
        return released

    def committed(self, scope: str, window: str) -> Decimal:
        response = self.client.get_item(
            TableName=self.table, Key=budget_key(scope, window), ConsistentRead=True
        )
        item = from_item(response.get("Item") or {})
        return Decimal(item.get("committed", 0))
