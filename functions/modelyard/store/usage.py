"""UsageTable reads: spend reports from the counters the aggregator keeps (see usage.aggregate)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from modelyard.errors import GatewayError
from modelyard.pricing.prices import format_usd
from modelyard.store.dynamo import as_int, from_item, query_all, to_item
from modelyard.usage.aggregate import FEEDBACK_PK, all_tenants_pks, breakdown

#: sorts after every "DAY#<date>#..." key of the same date
_DAY_END = "~"


class FeedbackExists(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "feedback_exists"


class UsageRepository:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def record_feedback(
        self, tenant: str, request_id: str, score: Decimal
    ) -> dict[str, Any] | None:
        """Attach `score` to the request's ledger item and add it to its task and model's tally.

        None when the request is not this tenant's (or not ledgered yet); a second rating of the
        same request raises `FeedbackExists`.
        """
        response = self.client.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"REQ#{request_id}"}, "sk": {"S": "LEDGER"}},
            ConsistentRead=True,
        )
        item = from_item(response["Item"]) if "Item" in response else None
        if item is None or item.get("tenant") != tenant or not item.get("model"):
            return None
        task = item.get("task") or "chat"
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": to_item({"pk": f"REQ#{request_id}", "sk": "LEDGER"}),
                            "UpdateExpression": "SET feedback = :score",
                            "ConditionExpression": "attribute_not_exists(feedback)",
                            "ExpressionAttributeValues": to_item({":score": score}),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": to_item({"pk": FEEDBACK_PK, "sk": f"{task}#{item['model']}"}),
                            "UpdateExpression": "ADD #count :one, score_sum :score",
                            "ExpressionAttributeNames": {"#count": "count"},
                            "ExpressionAttributeValues": to_item({":one": 1, ":score": score}),
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException:
            raise FeedbackExists(f"request {request_id} already has feedback") from None
        return {
            "request_id": request_id,
            "task": task,
            "model": item["model"],
            "score": str(score),
            "recorded": True,
        }

    def tenant_usage(self, tenant: str, since: str | None, until: str | None) -> dict[str, Any]:
        """Totals, per day, per model and per task for one tenant between two ISO dates
        (inclusive)."""
        low = f"DAY#{since or '0000-00-00'}"
        high = f"DAY#{until or '9999-12-31'}{_DAY_END}"
        items = query_all(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": f"TENANT#{tenant}"},
                ":low": {"S": low},
                ":high": {"S": high},
            },
        )
        days: list[dict[str, Any]] = []
        groups: dict[str, dict[str, dict[str, Any]]] = {
            kind: defaultdict(
                lambda: {"cost": Decimal(0), "requests": 0, "tokens": 0, "saved": Decimal(0)}
            )
            for kind in ("MODEL", "TASK", "MONTH")
        }
        for item in items:
            parts = str(item["sk"]).split("#")
            if len(parts) == 2:
                day = {"day": parts[1], **_totals(item)}
                days.append(day)
                _add(groups["MONTH"][parts[1][:7]], day)  # a month is the sum of its days
            for (kind, name), counters in breakdown(item).items():
                _add(groups[kind][name], _totals(counters))
        return {
            "tenant": tenant,
            "since": since,
            "until": until,
            "total_cost_usd": format_usd(sum((d["cost"] for d in days), Decimal(0))),
            "total_requests": sum(d["requests"] for d in days),
            "total_tokens": sum(d["tokens"] for d in days),
            "total_saved_usd": format_usd(sum((d["saved"] for d in days), Decimal(0))),
            "by_day": [_row("day", d["day"], d) for d in days],
            "by_month": [_row("month", m, v) for m, v in sorted(groups["MONTH"].items())],
            "by_model": [_row("model", m, v) for m, v in sorted(groups["MODEL"].items())],
            "by_task": [_row("task", t, v) for t, v in sorted(groups["TASK"].items())],
        }

    def spend_by_tenant(self, since: str | None, until: str | None) -> dict[str, Any]:
        """Every tenant's spend between two ISO dates (inclusive), from the across-tenants
        partitions (a Query each, however many tenants): totals per tenant and per day and
        tenant."""
        items = [
            item
            for pk in all_tenants_pks()
            for item in query_all(
                self.client,
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
                ExpressionAttributeValues=to_item(
                    {
                        ":pk": pk,
                        ":low": f"DAY#{since or '0000-00-00'}",
                        ":high": f"DAY#{until or '9999-12-31'}{_DAY_END}",
                    }
                ),
            )
        ]
        items.sort(key=lambda item: str(item["sk"]))
        tenants: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"cost": Decimal(0), "requests": 0, "tokens": 0}
        )
        by_day = []
        for item in items:
            _, day, _, tenant = str(item["sk"]).split("#", 3)
            cost = Decimal(item.get("cost_usd", 0))
            requests = as_int(item.get("requests"))
            tokens = as_int(item.get("input_tokens")) + as_int(item.get("output_tokens"))
            by_day.append(
                {
                    "day": day,
                    "tenant": tenant,
                    "cost_usd": format_usd(cost),
                    "requests": requests,
                    "tokens": tokens,
                }
            )
            entry = tenants[tenant]
            entry["cost"] += cost
            entry["requests"] += requests
            entry["tokens"] += tokens
        return {
            "since": since,
            "until": until,
            "total_cost_usd": format_usd(sum((t["cost"] for t in tenants.values()), Decimal(0))),
            "by_tenant": [
                {
                    "tenant": t,
                    "cost_usd": format_usd(v["cost"]),
                    "requests": v["requests"],
                    "tokens": v["tokens"],
                }
                for t, v in sorted(tenants.items())
            ],
            "by_day": by_day,
        }


def _totals(counters: dict[str, Any]) -> dict[str, Any]:
    return {
        "cost": Decimal(counters.get("cost_usd", 0)),
        "requests": as_int(counters.get("requests")),
        "tokens": as_int(counters.get("input_tokens")) + as_int(counters.get("output_tokens")),
        "saved": Decimal(counters.get("saved_usd", 0)),  # what response-cache hits avoided
    }


def _add(total: dict[str, Any], amounts: dict[str, Any]) -> None:
    for name in ("cost", "requests", "tokens", "saved"):
        total[name] += amounts[name]


def _row(name: str, value: str, totals: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value,
        "cost_usd": format_usd(totals["cost"]),
        "requests": totals["requests"],
        "tokens": totals["tokens"],
        "saved_usd": format_usd(totals["saved"]),
    }
