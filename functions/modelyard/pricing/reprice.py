"""Re-pricing history: a corrected price re-prices the ledger, and the counters follow.

Every ledger item records the price version that priced it (`price_version`, "<model>@<date>").
When a price is corrected (the same model and date written again with other numbers) or a new
version is back-dated, the ledger items of the days it covers were priced wrongly. The reprice
job (infra/statemachine/reprice.asl.json) walks them by model and day through the sparse index
`aggregate.LEDGER_INDEX`, one page per Lambda call (`reprice_page`), and re-prices each item in
ONE TransactWriteItems:

- the ledger item gets its new exact `cost_usd`, keeps what it cost first in
  `original_cost_usd` (its `price_version` stays the version that first priced it), and says
  `repriced_version`, `repriced_by` (the job id) and `repriced_at`;
- every counter the item was added to (`aggregate.spread`, the very same counters, its model's
  and task's on the tenant's day item included) gets the difference ADDed to `cost_usd` and to
  `repricing_delta_usd`, so aggregates stay equal to the
  sum of the ledger and the correction stays visible on them;
- the job's summary item `REPRICE#<job id>` / `JOB` gets one more item and the difference, so
  its total is the sum of the per-item differences by construction.

The ledger write is conditional on the item being as it was read (its cost and its re-priced
version): a page retried after a timeout, a second job, or a read from the eventually
consistent index that is out of date cannot apply a difference twice. On a failed condition the
item as it is now (returned by the failed transaction itself) is priced again.

Money is `Decimal` throughout; DynamoDB's ADD keeps it exact.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from modelyard.catalog import Catalog
from modelyard.pricing.prices import Price, TokenUsage, cost_usd, format_usd
from modelyard.store.dynamo import from_item, to_item
from modelyard.usage.aggregate import LEDGER_INDEX, add_update, ledger_index_pk, spread
from modelyard.usage.events import UsageEvent

#: What the index projects besides the keys: what pricing an item and finding its counters
#: need (template.yaml's Projection must list exactly these; tests/template checks it).
PROJECTED_ATTRIBUTES = (
    "request_id",
    "tenant",
    "key_id",
    "created_at",
    "day",
    "status",
    "task",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "price_version",
    "repriced_version",
)
#: ledger items per Lambda call: ~100 small transactions, seconds, far below the timeout
PAGE_SIZE = 100
#: the most days one job may cover (the ledger is kept 400 days)
MAX_DAYS = 400
SUMMARY_SK = "JOB"
JOB_PREFIX = "reprice_"
#: how often one item is priced again when its condition fails (someone else changed it)
_CONDITION_ATTEMPTS = 3
#: DynamoDB error codes worth retrying: the state machine's Retry runs the page again
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
#: TransactionCanceledException reasons that are someone else's write or a throttle, not ours
_TRANSIENT_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)


class TransientError(RuntimeError):
    """A throttled or conflicting DynamoDB call. Lambda reports the class name as the error
    type, which the state machine's Retry matches; the page is safe to run again."""


def summary_key(job_id: str) -> dict[str, Any]:
    return to_item({"pk": f"REPRICE#{job_id}", "sk": SUMMARY_SK})


def new_job_id() -> str:
    return JOB_PREFIX + uuid.uuid4().hex


def days(since: str, until: str) -> list[str]:
    """Every day from `since` to `until` (ISO dates, both included)."""
    first, last = date.fromisoformat(since), date.fromisoformat(until)
    if last < first:
        raise ValueError(f"until ({until}) is before since ({since})")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise ValueError(f"{count} days: one job covers at most {MAX_DAYS}")
    return [(first + timedelta(days=i)).isoformat() for i in range(count)]


def reprice_page(
    client: Any,
    table: str,
    catalog: Catalog,
    model: str,
    day: str,
    cursor: str | None,
    job_id: str | None,
    *,
    page_size: int = PAGE_SIZE,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Re-price one page of `model`'s ledger items of `day` at the price in force that day.

    Returns `{"cursor", "items", "delta_usd"}`: where the next page starts (None when the day
    is done), how many items were re-priced and their total difference (a decimal string).
    A day with no price in force is left as it is.
    """
    price = catalog.price(model, day)
    if price is None:
        return {"cursor": None, "items": 0, "delta_usd": "0"}
    query: dict[str, Any] = {
        "TableName": table,
        "IndexName": LEDGER_INDEX,
        "KeyConditionExpression": "ledger_pk = :pk",
        "ExpressionAttributeValues": to_item({":pk": ledger_index_pk(model, day)}),
        "Limit": page_size,
    }
    if cursor:
        query["ExclusiveStartKey"] = _start_key(model, day, cursor)
    page = _call(client.query, **query)
    repriced, total = 0, Decimal(0)
    for raw in page.get("Items", ()):
        delta = reprice_item(client, table, price, from_item(raw), job_id, now().isoformat())
        if delta is not None:
            repriced += 1
            total += delta
    last = page.get("LastEvaluatedKey")
    return {
        "cursor": str(last["ledger_sk"]["S"]) if last else None,
        "items": repriced,
        "delta_usd": format_usd(total),
    }


def reprice_item(
    client: Any,
    table: str,
    price: Price,
    item: Mapping[str, Any],
    job_id: str | None,
    at: str,
) -> Decimal | None:
    """Re-price one ledger item at `price`; the difference applied, or None if it was right."""
    current: Mapping[str, Any] | None = item
    for _ in range(_CONDITION_ATTEMPTS):
        if current is None:  # gone (TTL) since the index was read
            return None
        transaction = reprice_transaction(table, price, current, job_id, at)
        if transaction is None:
            return None
        items, delta = transaction
        try:
            _call(client.transact_write_items, TransactItems=items)
        except client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons") or []
            codes = {r.get("Code") for r in reasons}
            if codes & _TRANSIENT_REASONS:
                raise TransientError(f"re-pricing {current.get('request_id')}: {codes}") from exc
            if not reasons or reasons[0].get("Code") != "ConditionalCheckFailed":
                raise
            old = reasons[0].get("Item")
            current = from_item(old) if old else None
            continue
        return delta
    raise TransientError(f"ledger item {item.get('request_id')} kept changing while re-pricing")


def reprice_transaction(
    table: str,
    price: Price,
    item: Mapping[str, Any],
    job_id: str | None,
    at: str,
) -> tuple[list[dict[str, Any]], Decimal] | None:
    """The TransactWriteItems items that re-price `item` and the difference, or None when the
    item already costs what `price` says and says so."""
    event = UsageEvent.model_validate(dict(item))
    usage = TokenUsage(
        input_tokens=event.input_tokens,
        output_tokens=event.output_tokens,
        cached_tokens=event.cached_tokens,
        cache_write_tokens=event.cache_write_tokens,
        reasoning_tokens=event.reasoning_tokens,
    )
    old = Decimal(item.get("cost_usd", 0))
    new = cost_usd(usage, price)
    seen_version = item.get("repriced_version")
    if new == old and (seen_version or item.get("price_version")) == price.version:
        return None
    delta = new - old
    values: dict[str, Any] = {
        ":new": new,
        ":old": old,
        ":version": price.version,
        ":at": at,
    }
    # the item as read: a retried page or a second job finds it changed and does nothing
    condition = "cost_usd = :old AND "
    if seen_version is None:
        condition += "attribute_not_exists(repriced_version)"
    else:
        condition += "repriced_version = :seen"
        values[":seen"] = seen_version
    update = (
        "SET cost_usd = :new, original_cost_usd = if_not_exists(original_cost_usd, :old), "
        "repriced_version = :version, repriced_at = :at"
    )
    if job_id:
        update += ", repriced_by = :job"
        values[":job"] = job_id
    items: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": table,
                "Key": to_item({"pk": f"REQ#{event.request_id}", "sk": "LEDGER"}),
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": to_item(values),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
    ]
    if delta:
        change: dict[str, int | Decimal] = {"cost_usd": delta, "repricing_delta_usd": delta}
        items += [
            {"Update": add_update(table, key, amounts, time.time())}
            for key, amounts in spread(event, change).items()
        ]
    if job_id:
        items.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": summary_key(job_id),
                    "UpdateExpression": "ADD items_repriced :one, delta_usd :delta",
                    "ExpressionAttributeValues": to_item({":one": 1, ":delta": delta}),
                }
            }
        )
    return items, delta


def _start_key(model: str, day: str, request_id: str) -> dict[str, Any]:
    """The index's ExclusiveStartKey after `request_id`: its keys plus the table's, which are
    REQ#<request id> / LEDGER, so a request id is the whole cursor."""
    return to_item(
        {
            "ledger_pk": ledger_index_pk(model, day),
            "ledger_sk": request_id,
            "pk": f"REQ#{request_id}",
            "sk": "LEDGER",
        }
    )


def _call(operation: Callable[..., Any], **kwargs: Any) -> Any:
    """`operation(**kwargs)`, a throttle or conflict (after botocore's own retries) raised as
    TransientError so that the state machine retries the page with backoff."""
    from botocore.exceptions import ClientError

    try:
        return operation(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES:
            raise TransientError(str(exc)) from exc
        raise


# -- the job: start it, wait for it, read its summary ----------------------------------------


def start_job(sfn: Any, state_machine_arn: str, model: str, since: str, until: str) -> str:
    """Start one reprice execution, named after its job id; returns the job id."""
    days(since, until)  # refuse a bad range here rather than in a failed execution
    job_id = new_job_id()
    sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=job_id,
        input=json.dumps({"model": model, "since": since, "until": until}),
    )
    return job_id


def execution_arn(state_machine_arn: str, job_id: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{job_id}"


def wait(
    sfn: Any,
    state_machine_arn: str,
    job_id: str,
    timeout: float = 900,
    interval: float = 0.5,
) -> str:
    """Wait for the job's execution to end; returns its status (SUCCEEDED, FAILED, ...)."""
    arn = execution_arn(state_machine_arn, job_id)
    deadline = time.monotonic() + timeout
    while (status := str(sfn.describe_execution(executionArn=arn)["status"])) == "RUNNING":
        if time.monotonic() > deadline:
            raise TimeoutError(f"re-pricing job {job_id} still running after {timeout:.0f} s")
        time.sleep(interval)
    return status


def summary(client: Any, table: str, job_id: str) -> dict[str, Any] | None:
    """The job's summary item (status, model, since, until, items_repriced, delta_usd, ...)."""
    response = client.get_item(TableName=table, Key=summary_key(job_id), ConsistentRead=True)
    if "Item" not in response:
        return None
    item = from_item(response["Item"])
    out = {k: v for k, v in item.items() if k not in ("pk", "sk")}
    out["job_id"] = job_id
    out["items_repriced"] = int(item.get("items_repriced", 0))
    out["delta_usd"] = format_usd(Decimal(item.get("delta_usd", 0)))
    return out
