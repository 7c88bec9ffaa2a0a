"""The reprice job's Lambda (infra/statemachine/reprice.asl.json calls it two ways).

`{"action": "days", "since", "until"}` -> `{"days": [...]}`: the days the job walks.
`{"model", "day", "cursor", "job_id"}` -> `{"cursor", "items", "delta_usd"}`: one page of
re-pricing (modelyard.pricing.reprice.reprice_page). A throttle or a conflict raises
`TransientError`, which the state machine retries; a page is safe to run again.

The catalog is read afresh on every call: a job usually starts right after a price was
corrected, and a warm instance's cached catalog may not have the correction yet.
"""

from __future__ import annotations

from typing import Any

from modelyard import aws
from modelyard.pricing import reprice
from modelyard.settings import get_settings
from modelyard.store.config import ConfigRepository


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("action") == "days":
        return {"days": reprice.days(str(event["since"]), str(event["until"]))}
    settings = get_settings()
    client = aws.client("dynamodb")
    catalog = ConfigRepository(settings.config_table, client, cache_seconds=0).catalog()
    return reprice.reprice_page(
        client,
        settings.usage_table,
        catalog,
        str(event["model"]),
        str(event["day"]),
        event.get("cursor"),
        event.get("job_id"),
        page_size=reprice.PAGE_SIZE,
    )
