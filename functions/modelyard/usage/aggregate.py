"""Aggregation: a usage event becomes one ledger item and its counters, exactly once.

One TransactWriteItems puts the ledger item only if it does not exist yet and ADDs the same
amounts to every counter, so a redelivered event changes nothing and a failed one changes
nothing either: counters always equal the sum of the ledger. An event that carries budget
reservations (an asynchronous job's) settles them in the same transaction.

UsageTable layout (pk / sk):
  REQ#<request id> / LEDGER                     the ledger item (TTL `expires_at`); with a
                                                model, also `ledger_pk` = <model>#<day> and
                                                `ledger_sk` = <request id>: the sparse index
                                                LEDGER_INDEX that re-pricing walks
  TENANT#<tenant>  / DAY#<d>                    tenant totals (every counter: cost_usd,
                                                provider_cost_usd (what the providers
                                                invoice, pricing.invoices), requests,
                                                tokens, failed_requests; where the response
                                                cache applied also cache_hits, cache_misses
                                                and saved_usd)
  TENANT#<tenant>  / DAY#<d>#MODEL#<model>      tenant per model per day
  TENANT#<tenant>  / DAY#<d>#TASK#<task>        tenant per task per day
  ALL              / DAY#<d>#TENANT#<tenant>    every tenant's day, for spend across tenants
  KEY#<key id>     / DAY#<d>                    key totals
  MODEL#<model>    / DAY#<d>                    model totals across tenants
  HEALTH           / <hour>#<model>             attempts, errors and latency per model and
                                                hour, which the router reads back (TTL 2 days)
  FEEDBACK         / <task>#<model>             users' ratings (see store.usage.record_feedback)
  CACHE#<tenant>   / <request hash>             a cached response (store.responses, TTL)
  BUDGET#<scope>   / DAY#<d> | MONTH#<m>        budget windows (store.budgets)
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Literal

from modelyard.store.budgets import settle_update
from modelyard.store.contention import Backoff, cancellation_reasons, transient
from modelyard.store.dynamo import to_item
from modelyard.usage.events import UsageEvent

LEDGER_RETENTION_SECONDS = 400 * 24 * 3600
HEALTH_RETENTION_SECONDS = 2 * 24 * 3600
HEALTH_PK = "HEALTH"
FEEDBACK_PK = "FEEDBACK"
#: UsageTable's GSI of ledger items by model and day (template.yaml; pricing.reprice reads it).
#: Sparse: only ledger items carry its keys, so counters and health windows stay out of it.
LEDGER_INDEX = "ledger-by-model-day"


def ledger_index_pk(model: str, day: str) -> str:
    return f"{model}#{day}"


def health_updates(event: UsageEvent) -> dict[str, dict[str, int]]:
    """Per model this request tried: attempts, errors and (for the one that served) latency."""
    stats: dict[str, dict[str, int]] = {}
    for attempt in event.attempts:
        if attempt.status == "skipped":
            continue
        entry = stats.setdefault(
            attempt.model, {":attempts": 0, ":errors": 0, ":ttft": 0, ":ttft_n": 0}
        )
        entry[":attempts"] += 1
        if attempt.status == "error":
            entry[":errors"] += 1
    if event.model in stats and event.status != "failed":
        served = stats[event.model]
        first_token = event.ttft_ms if event.ttft_ms is not None else event.latency_ms
        served[":ttft"] += first_token
        served[":ttft_n"] += 1
    return stats


def counter_keys(event: UsageEvent) -> list[tuple[str, str]]:
    """Every counter one request adds to. Days only: a month is at most 31 items to sum, and
    each counter here is a write (two write units in a transaction) on every request."""
    keys = [
        (f"TENANT#{event.tenant}", f"DAY#{event.day}"),
        (f"KEY#{event.key_id}", f"DAY#{event.day}"),
        ("ALL", f"DAY#{event.day}#TENANT#{event.tenant}"),
    ]
    if event.model:
        keys.append((f"TENANT#{event.tenant}", f"DAY#{event.day}#MODEL#{event.model}"))
        keys.append((f"MODEL#{event.model}", f"DAY#{event.day}"))
    if event.task:
        keys.append((f"TENANT#{event.tenant}", f"DAY#{event.day}#TASK#{event.task}"))
    return keys


def ledger_item(event: UsageEvent, now: float | None = None) -> dict[str, Any]:
    values = event.model_dump(mode="python", exclude={"attempts", "version"})
    values["attempts"] = [a.model_dump() for a in event.attempts]
    if event.model:
        values["ledger_pk"] = ledger_index_pk(event.model, event.day)
        values["ledger_sk"] = event.request_id
    return {
        "pk": f"REQ#{event.request_id}",
        "sk": "LEDGER",
        **values,
        "expires_at": int((now or time.time()) + LEDGER_RETENTION_SECONDS),
    }


def transaction(
    table: str, event: UsageEvent, lapsed: frozenset[int] = frozenset()
) -> list[dict[str, Any]]:
    """The TransactWriteItems items that record `event`; its reservations come last (those
    numbered in `lapsed` had expired: their cost is added without a reservation to replace)."""
    amounts = {
        ":cost": event.cost_usd,
        ":provider_cost": event.provider_cost_usd,
        ":requests": 1,
        ":input": event.input_tokens,
        ":output": event.output_tokens,
        ":failed": 1 if event.status == "failed" else 0,  # a client gone is not a failure
    }
    update = (
        "ADD cost_usd :cost, provider_cost_usd :provider_cost, requests :requests, "
        "input_tokens :input, "
        "output_tokens :output, failed_requests :failed"
    )
    if event.cache in ("hit", "miss"):  # only where the cache applied: other counters unchanged
        amounts[":lookup"] = 1
        update += ", cache_hits :lookup" if event.cache == "hit" else ", cache_misses :lookup"
    if event.saved_usd:
        amounts[":saved"] = event.saved_usd
        update += ", saved_usd :saved"
    items: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table,
                "Item": to_item(ledger_item(event)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]
    hour = event.created_at[:13]  # YYYY-MM-DDTHH
    expires = int(time.time() + HEALTH_RETENTION_SECONDS)
    for model, stats in health_updates(event).items():
        items.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": to_item({"pk": HEALTH_PK, "sk": f"{hour}#{model}"}),
                    "UpdateExpression": "ADD attempts :attempts, errors :errors, "
                    "ttft_ms_sum :ttft, ttft_count :ttft_n SET expires_at = :expires",
                    "ExpressionAttributeValues": to_item({**stats, ":expires": expires}),
                }
            }
        )
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
    for i, reservation in enumerate(event.reservations):
        settle = settle_update(table, reservation, event.request_id, event.cost_usd, i in lapsed)
        items.append({"Update": settle})
    return items


def record(
    client: Any, table: str, event: UsageEvent, backoff: Backoff | None = None
) -> Literal["recorded", "duplicate"]:
    """Write `event` once; a second delivery of the same request id is a no-op. DynamoDB's
    transaction conflicts, throttling, 500s and timeouts are retried with backoff (see
    store.contention): a retry is safe, the ledger put's condition makes it once."""
    backoff = replace(backoff, waited=0) if backoff is not None else Backoff()
    lapsed: frozenset[int] = frozenset()
    while True:
        items = transaction(table, event, lapsed)
        try:
            client.transact_write_items(TransactItems=items)
        except client.exceptions.TransactionCanceledException as exc:
            codes = cancellation_reasons(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return "duplicate"
            first = len(items) - len(event.reservations)
            gone = {i for i, code in enumerate(codes[first:]) if code == "ConditionalCheckFailed"}
            if transient(exc):
                lapsed |= gone
                backoff.wait(exc)
                continue
            if not gone - lapsed:
                raise
            lapsed |= gone  # ends: each retry has more unconditional updates, none fewer
            continue
        except Exception as exc:
            if not transient(exc):
                raise
            backoff.wait(exc)
            continue
        return "recorded"
