"""Accounting at 10,000 requests a second and the gateway's own bill (issue 18).

Rows: the load model (modelyard.usage.load_model) for the batch design against today's
per-request transactions, and `modelyard cost overhead` for Lambda Managed Instances against
on-demand. Both run in process on a recording DynamoDB: no stack needed.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from common import Row
from modelyard.pricing.overhead import Profile, counted_traffic, overhead
from modelyard.usage.load_model import Traffic
from modelyard.usage.load_model import run as run_load_model


def run(quick: bool) -> list[Row]:
    logging.getLogger("modelyard.usage").setLevel(logging.CRITICAL)  # injected faults
    traffic = Traffic(seconds=1 if quick else 3)
    old, new = run_load_model(traffic, "per-request"), run_load_model(traffic, "per-batch")
    scope = (
        f"{traffic.rps:,} req/s for {traffic.seconds} s, {traffic.tenants} Zipf tenants, "
        f"{traffic.models} models, batches of {traffic.batch_size}; {new.requests:,} requests"
    )

    def versus(name: str, new_value: float, old_value: float, unit: str = "", **more: Any) -> Row:
        """A figure of the batch design against today's per-request transactions."""
        return Row("accounting", name, new_value, unit, old_value, "per-request design", **more)

    rows = [
        versus(
            "DynamoDB write units per request: batch design vs per-request transactions",
            round(new.write_units / new.requests, 3),
            round(old.write_units / old.requests, 3),
            "WRU",
            note=scope,
        ),
        versus(
            "transactions per request: batch design vs per-request",
            round(new.transactions / new.requests, 4),
            round(old.transactions / old.requests, 4),
        ),
        versus(
            "most writes to one item in one second at the peak: batch design vs per-request",
            new.hottest_writes_per_second,
            old.hottest_writes_per_second,
            "writes/s",
            note=f"new: {new.hottest_item}; old: {old.hottest_item}; "
            f"hottest shared counter (new) {new.hottest_counter_writes_per_second}/s",
            target="<= 100",
            met=new.hottest_writes_per_second <= 100,
        ),
        versus(
            "most write units to one partition key in one second: batch design vs per-request",
            new.hottest_partition_units_per_second,
            old.hottest_partition_units_per_second,
            "WRU/s",
            note=f"new: {new.hottest_partition}; old: {old.hottest_partition}; DynamoDB serves "
            "one partition 1,000 a second",
            target="<= 1000",
            met=new.hottest_partition_units_per_second <= 1000,
        ),
        versus(
            "ledger == counters after redeliveries, crashes and failed puts (1 = yes)",
            int(new.reconciled),
            int(old.reconciled),
            target="= 1",
            met=new.reconciled and old.reconciled,
        ),
    ]
    counted_in, counted = counted_traffic(10_000)
    profile = Profile()
    bills = {
        m: overhead(m, profile, counted, counted_in) for m in ("on-demand", "managed-instances")
    }
    lmi, ondemand = bills["managed-instances"], bills["on-demand"]
    rows += [
        Row(
            "cost",
            "AWS overhead per million requests: Managed Instances vs on-demand router",
            float(lmi["overhead_usd_per_million"]),
            "USD",
            float(ondemand["overhead_usd_per_million"]),
            "on-demand",
            f"{profile.latency_ms} ms a request (DeepSeek V4 Flash, 5,000 in + 2,500 out); "
            f"prices as of {lmi['prices_as_of']}; modelyard cost overhead",
        ),
        Row(
            "cost",
            "DynamoDB + SQS + CloudWatch per million requests",
            float(lmi["dynamodb_sqs_cloudwatch_usd"]),
            "USD",
            None,
            "",
            f"{lmi['dynamodb_write_units_per_request']} WRU a request (aggregator counted, "
            f"+2 for one budget window's reserve and settle)",
            target="< 5",
            met=Decimal(lmi["dynamodb_sqs_cloudwatch_usd"]) < 5,
        ),
        Row(
            "cost",
            "AWS overhead / model cost: Managed Instances vs on-demand",
            float(lmi["overhead_share_of_model"].rstrip("%")),
            "%",
            float(ondemand["overhead_share_of_model"].rstrip("%")),
            "on-demand",
            f"model ${lmi['model_usd_per_million']} per million requests",
            target="< 5%",
            met=float(lmi["overhead_share_of_model"].rstrip("%")) < 5,
        ),
    ]
    return rows
