"""Helpers for tests that read what the gateway wrote."""

from __future__ import annotations

from typing import Any

from modelyard import aws
from modelyard.settings import get_settings


def ledger_items(request_id: str | None = None) -> list[dict[str, Any]]:
    from modelyard.store.dynamo import from_item

    client = aws.client("dynamodb")
    table = get_settings().usage_table
    items = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**kwargs)
        items += [from_item(i) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    ledger = [i for i in items if i["sk"] == "LEDGER"]
    if request_id is not None:
        ledger = [i for i in ledger if i["request_id"] == request_id]
    return ledger
