"""Helpers for tests that read what the gateway wrote."""

from __future__ import annotations

import time
from typing import Any

from modelyard import aws
from modelyard.settings import get_settings
from modelyard.store.dynamo import from_item

#: the local stack's usage poller (set by the `stack` fixture), drained while waiting
_poller: Any = None


def use_poller(poller: Any) -> None:
    global _poller
    _poller = poller


def ledger_items(request_id: str | None = None, wait: float = 10.0) -> list[dict[str, Any]]:
    """The ledger item of one request, waiting for it to be recorded (the gateway publishes
    after the client has its answer), or, without an id, every ledger item."""
    client = aws.client("dynamodb")
    table = get_settings().usage_table
    if request_id is None:
        pages = client.get_paginator("scan").paginate(TableName=table)
        items = [from_item(i) for page in pages for i in page["Items"]]
        return [i for i in items if i["sk"] == "LEDGER"]
    deadline = time.monotonic() + wait
    while True:
        if _poller is not None:
            _poller.drain()
        found = client.get_item(
            TableName=table,
            Key={"pk": {"S": f"REQ#{request_id}"}, "sk": {"S": "LEDGER"}},
            ConsistentRead=True,
        ).get("Item")
        if found or time.monotonic() > deadline:
            return [from_item(found)] if found else []
        time.sleep(0.05)
