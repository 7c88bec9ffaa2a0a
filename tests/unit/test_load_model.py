"""The load model and the bill it feeds: small traffic, the same code paths as the peak."""

from __future__ import annotations

from decimal import Decimal

from modelyard.pricing.overhead import Profile, overhead
from modelyard.usage.load_model import Result, Traffic, run

SMALL = Traffic(rps=400, seconds=2, tenants=40, batch_size=200, crash_rate=0.2)


def test_both_designs_reconcile_and_the_batch_design_writes_hot_items_less():
    old, new = run(SMALL, "per-request"), run(SMALL, "per-batch")
    assert old.reconciled and new.reconciled
    assert old.requests == new.requests == SMALL.rps * SMALL.seconds
    assert new.hottest_counter_writes_per_second < old.hottest_counter_writes_per_second
    assert new.transactions < old.transactions


def test_the_on_demand_router_is_billed_for_the_whole_wait():
    counted = Result("per-batch", 1000, 6000, 80.0, 25, "x", 10, "y", 10, True)
    bill = overhead("on-demand", Profile(latency_ms=5000), counted, Traffic())
    router = Decimal(bill["components_usd_per_million"]["Lambda: router"])
    # 1 GB x 5 s x $0.0000133334 x 1e6 + $0.20 of requests
    assert router == Decimal("66.87")
    assert bill["model_usd_per_million"] == "1400.00"
