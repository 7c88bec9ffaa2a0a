"""The counter layout: a tenant's per-model and per-task day totals ride on its day item."""

from __future__ import annotations

from decimal import Decimal

from modelyard.usage.aggregate import all_tenants_pk, all_tenants_pks, breakdown, deltas
from modelyard.usage.events import UsageEvent


def event(**changes: object) -> UsageEvent:
    fields = {
        "request_id": "req_1",
        "tenant": "t",
        "key_id": "k",
        "created_at": "2026-11-24T10:00:00+00:00",
        "day": "2026-11-24",
        "status": "ok",
        "task": "coding",
        "model": "m",
        "input_tokens": 10,
        "output_tokens": 5,
        "cost_usd": Decimal("0.0003"),
    }
    return UsageEvent.model_validate(fields | changes)


def test_a_request_writes_its_model_and_task_totals_onto_the_tenant_day_item():
    found = deltas(event())
    assert set(found) == {
        ("TENANT#t", "DAY#2026-11-24"),
        ("KEY#k", "DAY#2026-11-24"),
        (all_tenants_pk("t"), "DAY#2026-11-24#TENANT#t"),
        ("MODEL#m", "DAY#2026-11-24"),
    }  # no attempts, so no health window; no per-model or per-task items of the tenant
    day = found[("TENANT#t", "DAY#2026-11-24")]
    assert day["m#m#cost_usd"] == day["t#coding#cost_usd"] == day["cost_usd"]
    assert day["m#m#requests"] == day["t#coding#requests"] == 1
    view = breakdown({"sk": "DAY#2026-11-24", **day})
    assert set(view) == {("MODEL", "m"), ("TASK", "coding")}
    assert view[("MODEL", "m")]["output_tokens"] == 5


def test_names_with_separators_and_the_earlier_layout_read_back():
    day = deltas(event(model="org#model-1", task=None))[("TENANT#t", "DAY#2026-11-24")]
    assert set(breakdown({"sk": "DAY#2026-11-24", **day})) == {("MODEL", "org#model-1")}
    earlier = {"sk": "DAY#2026-11-24#MODEL#m", "cost_usd": Decimal(1), "requests": 2}
    assert breakdown(earlier) == {("MODEL", "m"): earlier}


def test_the_across_tenants_days_spread_over_their_partition_keys():
    keys = {all_tenants_pk(f"tenant-{i}") for i in range(400)}
    assert keys == set(all_tenants_pks()) - {"ALL"}  # every shard used; ALL is the old key
