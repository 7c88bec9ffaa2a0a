"""Aggregation: a usage event becomes one ledger item and its counters, exactly once.

The ledger item is put only if its request id has none yet, so a redelivered event writes
nothing twice. Counters are added in one of two ways, and both keep them equal to the sum of
the ledger:

- with the ledger item, in one TransactWriteItems (`record`): the router's own path when the
  queue is down, one request at a time;
- once per batch of events (usage.batches, the aggregator): the ledger item carries the claim
  of the batch that will count it, and the batch adds each counter once, however many of its
  events share it. docs/accounting.md says why.

An event that carries budget reservations (an asynchronous job's) settles them in the
transaction that puts its ledger item, on either path.

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
                                                and saved_usd), and the same per model and
                                                per task as attributes `m#<model>#<counter>`
                                                and `t#<task>#<counter>` (`breakdown`)
  ALL#<shard>      / DAY#<d>#TENANT#<tenant>    every tenant's day, for spend across tenants
                                                (`all_tenants_pk`: 16 partition keys)
  KEY#<key id>     / DAY#<d>                    key totals
  MODEL#<model>    / DAY#<d>                    model totals across tenants
  HEALTH           / <hour>#<model>             attempts, errors and latency per model and
                                                hour, which the router reads back (TTL 2 days)
  FEEDBACK         / <task>#<model>             users' ratings (see store.usage.record_feedback)
  CACHE#<tenant>   / <request hash>             a cached response (store.responses, TTL)
  BUDGET#<scope>   / DAY#<d> | MONTH#<m>        budget windows (store.budgets)
  BATCH#<batch id> / SEAL | DONE                what one aggregator batch counts and how far
                                                it got (usage.batches, TTL 15 days)
"""

from __future__ import annotations

import time
import zlib
from dataclasses import replace
from decimal import Decimal
from typing import Any, Literal

from modelyard.store.budgets import settle_update
from modelyard.store.contention import Backoff, Retrying, cancellation_reasons, transient
from modelyard.store.dynamo import from_item, to_item
from modelyard.usage.events import UsageEvent

LEDGER_RETENTION_SECONDS = 400 * 24 * 3600
HEALTH_RETENTION_SECONDS = 2 * 24 * 3600
HEALTH_PK = "HEALTH"
FEEDBACK_PK = "FEEDBACK"
#: A tenant's day totals per model and per task are attributes of its day item, not items of
#: their own: a tenant with one request in a batch then costs the batch one counter write,
#: not three (docs/accounting.md, "What it costs").
BREAKDOWN_PREFIXES = {"m": "MODEL", "t": "TASK"}
#: Every tenant's day is counted once more under one of these partition keys, for spend across
#: tenants in a few Queries. One key for all tenants took ~6,700 write units a second at the
#: load model's peak, and DynamoDB serves one partition 1,000; spread by tenant over 16 keys,
#: the busiest takes ~600.
ALL_TENANTS_SHARDS = 16
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
            attempt.model, {"attempts": 0, "errors": 0, "ttft_ms_sum": 0, "ttft_count": 0}
        )
        entry["attempts"] += 1
        if attempt.status == "error":
            entry["errors"] += 1
    if event.model in stats and event.status != "failed":
        served = stats[event.model]
        first_token = event.ttft_ms if event.ttft_ms is not None else event.latency_ms
        served["ttft_ms_sum"] += first_token
        served["ttft_count"] += 1
    return stats


def all_tenants_pk(tenant: str) -> str:
    return f"ALL#{zlib.crc32(tenant.encode()) % ALL_TENANTS_SHARDS:02d}"


def all_tenants_pks() -> list[str]:
    """Every partition key of the across-tenants days (and `ALL`, their earlier single key)."""
    return ["ALL", *(f"ALL#{shard:02d}" for shard in range(ALL_TENANTS_SHARDS))]


def counter_keys(event: UsageEvent) -> list[tuple[str, str]]:
    """Every counter item one request adds to. Days only: a month is at most 31 items to sum,
    and each counter here is a write (two write units in a transaction) per batch it is in."""
    keys = [
        (f"TENANT#{event.tenant}", f"DAY#{event.day}"),
        (f"KEY#{event.key_id}", f"DAY#{event.day}"),
        (all_tenants_pk(event.tenant), f"DAY#{event.day}#TENANT#{event.tenant}"),
    ]
    if event.model:
        keys.append((f"MODEL#{event.model}", f"DAY#{event.day}"))
    return keys


def spread(
    event: UsageEvent, amounts: dict[str, int | Decimal]
) -> dict[tuple[str, str], dict[str, int | Decimal]]:
    """`amounts` added to each of the request's counter items, and on its tenant's day item
    also under the request's model and task (`m#<model>#<counter>`, `t#<task>#<counter>`)."""
    found = {key: dict(amounts) for key in counter_keys(event)}
    tenant_day = found[(f"TENANT#{event.tenant}", f"DAY#{event.day}")]
    for prefix, value in (("m", event.model), ("t", event.task)):
        if value:
            tenant_day.update({f"{prefix}#{value}#{name}": n for name, n in amounts.items()})
    return found


def breakdown(item: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """A tenant day item's totals per model and per task: (`MODEL` | `TASK`, name) -> counters.
    An item of the earlier layout (`DAY#<d>#MODEL#<m>`, one item per model) reads as its own."""
    parts = str(item.get("sk", "")).split("#")
    if len(parts) == 4 and parts[2] in BREAKDOWN_PREFIXES.values():
        return {(parts[2], parts[3]): item}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for attribute, amount in item.items():
        prefix, _, rest = attribute.partition("#")
        name, _, counter = rest.rpartition("#")
        if prefix in BREAKDOWN_PREFIXES and name:
            found.setdefault((BREAKDOWN_PREFIXES[prefix], name), {})[counter] = amount
    return found


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


def counter_amounts(event: UsageEvent) -> dict[str, int | Decimal]:
    """What one request adds to each of its counters (`counter_keys`)."""
    amounts: dict[str, int | Decimal] = {
        "cost_usd": event.cost_usd,
        "provider_cost_usd": event.provider_cost_usd,
        "requests": 1,
        "input_tokens": event.input_tokens,
        "output_tokens": event.output_tokens,
        "failed_requests": 1 if event.status == "failed" else 0,  # a client gone is not one
    }
    if event.cache in ("hit", "miss"):  # only where the cache applied: other counters unchanged
        amounts["cache_hits" if event.cache == "hit" else "cache_misses"] = 1
    if event.saved_usd:
        amounts["saved_usd"] = event.saved_usd
    return amounts


def deltas(event: UsageEvent) -> dict[tuple[str, str], dict[str, int | Decimal]]:
    """Every item (pk, sk) one request ADDs to, health windows included, and the amounts."""
    hour = event.created_at[:13]  # YYYY-MM-DDTHH
    found: dict[tuple[str, str], dict[str, int | Decimal]] = {
        (HEALTH_PK, f"{hour}#{model}"): dict(stats)
        for model, stats in health_updates(event).items()
    }
    return found | spread(event, counter_amounts(event))


def add_update(
    table: str, key: tuple[str, str], amounts: dict[str, int | Decimal], now: float
) -> dict[str, Any]:
    """The Update that ADDs `amounts` to the item at `key` (a health window also gets its TTL)."""
    names = sorted(amounts)
    values: dict[str, Any] = {f":a{i}": amounts[name] for i, name in enumerate(names)}
    update = "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(names)))
    if key[0] == HEALTH_PK:
        update += " SET expires_at = :expires"
        values[":expires"] = int(now + HEALTH_RETENTION_SECONDS)
    return {
        "TableName": table,
        "Key": to_item({"pk": key[0], "sk": key[1]}),
        "UpdateExpression": update,
        "ExpressionAttributeNames": {f"#a{i}": name for i, name in enumerate(names)},
        "ExpressionAttributeValues": to_item(values),
    }


def transaction(
    table: str,
    event: UsageEvent,
    lapsed: frozenset[int] = frozenset(),
    claim: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The TransactWriteItems items that record `event`; its reservations come last (those
    numbered in `lapsed` had expired: their cost is added without a reservation to replace).

    With a `claim` (usage.batches) the ledger item carries it and the counters are left out:
    the claiming batch adds them, once per batch.
    """
    now = time.time()
    put = {
        "TableName": table,
        "Item": to_item({**ledger_item(event, now), **(claim or {})}),
        "ConditionExpression": "attribute_not_exists(pk)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    items: list[dict[str, Any]] = [{"Put": put}]
    if claim is None:
        items += [
            {"Update": add_update(table, key, amounts, now)}
            for key, amounts in deltas(event).items()
        ]
    for i, reservation in enumerate(event.reservations):
        settle = settle_update(table, reservation, event.request_id, event.cost_usd, i in lapsed)
        items.append({"Update": settle})
    return items


def write_ledger(
    client: Any,
    table: str,
    event: UsageEvent,
    claim: dict[str, Any] | None = None,
    backoff: Backoff | None = None,
) -> dict[str, Any] | None:
    """Write `event`'s ledger item unless its request id has one; None when written, else the
    item that was there (as DynamoDB returned it). Reservations settle with the ledger item,
    and, without a `claim`, the counters are added with it too. DynamoDB's transaction
    conflicts, throttling, 500s and timeouts are retried with backoff (store.contention): a
    retry is safe, the ledger put's condition makes it once."""
    backoff = replace(backoff, waited=0) if backoff is not None else Backoff()
    lapsed: frozenset[int] = frozenset()
    if claim is not None and not event.reservations:  # one item: no transaction needed
        [item] = transaction(table, event, claim=claim)
        try:
            Retrying(client).put_item(**item["Put"])
        except client.exceptions.ConditionalCheckFailedException as exc:
            return _existing(client, table, event, exc.response.get("Item"))
        return None
    while True:
        items = transaction(table, event, lapsed, claim)
        try:
            client.transact_write_items(TransactItems=items)
        except client.exceptions.TransactionCanceledException as exc:
            codes = cancellation_reasons(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                reasons = exc.response.get("CancellationReasons") or []
                return _existing(client, table, event, reasons[0].get("Item"))
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
        return None


def _existing(
    client: Any, table: str, event: UsageEvent, item: dict[str, Any] | None
) -> dict[str, Any]:
    """The ledger item a failed put found (read again if the error did not carry it)."""
    if item is None:
        item = client.get_item(
            TableName=table, Key=ledger_key(event.request_id), ConsistentRead=True
        ).get("Item", {})
    return from_item(item or {})


def ledger_key(request_id: str) -> dict[str, Any]:
    return to_item({"pk": f"REQ#{request_id}", "sk": "LEDGER"})


def record(
    client: Any, table: str, event: UsageEvent, backoff: Backoff | None = None
) -> Literal["recorded", "duplicate"]:
    """Write `event` once, counters included; a second delivery of the same request id is a
    no-op. The router's own path when the queue is down (the aggregator uses usage.batches)."""
    written = write_ledger(client, table, event, backoff=backoff)
    return "recorded" if written is None else "duplicate"
