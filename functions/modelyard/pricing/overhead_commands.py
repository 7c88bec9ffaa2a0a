"""`modelyard load-model` and `modelyard cost overhead`: accounting at peak, and its bill."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.deployment import Deployment

DEPLOYMENTS: tuple[Deployment, ...] = ("on-demand", "managed-instances")


def register(sub: Any, cost: Any) -> None:
    load = sub.add_parser(
        "load-model",
        help="a peak of synthetic traffic through the real aggregation, both designs, counted",
    )
    load.add_argument("--rps", type=int, default=10_000, help="requests a second at the peak")
    load.add_argument("--seconds", type=int, default=3, help="seconds of peak to simulate")
    load.add_argument("--batch-size", type=int, default=1_000, help="the aggregator's BatchSize")
    load.add_argument("--json", action="store_true")
    load.set_defaults(func=_load_model)

    overhead = cost.add_parser(
        "overhead", help="the gateway's own AWS cost per million requests, by component"
    )
    overhead.add_argument("--deployment", choices=DEPLOYMENTS, help="one mode (default: both)")
    overhead.add_argument("--latency-ms", type=int, help="request duration (default: the profile)")
    overhead.add_argument(
        "--requests",
        type=int,
        default=10_000,
        help="requests the load model counts DynamoDB calls over (at the peak's batching)",
    )
    overhead.add_argument("--json", action="store_true")
    overhead.set_defaults(func=_overhead)

    variant = sub.add_parser(
        "template",
        help="the SAM template of a deployment mode, as JSON (sam build -t FILE)",
        description="template.yaml as is (on-demand), or with the router on Lambda Managed "
        "Instances (infra/managed-instances.json merged in). Write it next to template.yaml: "
        "its CodeUri and DefinitionUri paths are relative to the repository root.",
    )
    variant.add_argument("--deployment", choices=DEPLOYMENTS, default="managed-instances")
    variant.set_defaults(func=_template)


def _template(args: argparse.Namespace) -> None:
    from modelyard.deployment import template

    print(json.dumps(template(args.deployment), indent=2))


def _quiet() -> None:
    """Injected faults log their tracebacks; the tables are the output here."""
    logging.getLogger("modelyard.usage").setLevel(logging.CRITICAL)


def _load_model(args: argparse.Namespace) -> None:
    from modelyard.usage.load_model import Traffic, run

    _quiet()
    traffic = Traffic(rps=args.rps, seconds=args.seconds, batch_size=args.batch_size)
    rows = [run(traffic, design).row() for design in ("per-request", "per-batch")]
    if args.json:
        print(json.dumps({"traffic": vars(traffic), "rows": rows}, indent=2))
        return
    print(
        f"{traffic.rps:,} requests/s for {traffic.seconds} s, {traffic.tenants} tenants (Zipf), "
        f"{traffic.models} models, batches of {traffic.batch_size} or {traffic.window:g} s; "
        f"{traffic.duplicate_rate:.0%} delivered twice, {traffic.crash_rate:.0%} of invocations "
        f"dying, {traffic.put_failure_rate:.1%} of puts failing\n"
    )
    _print_columns(rows, "design")


def _overhead(args: argparse.Namespace) -> None:
    from modelyard.pricing.overhead import Profile, counted_traffic, overhead

    _quiet()
    profile = Profile()
    if args.latency_ms is not None:
        profile = replace(profile, latency_ms=args.latency_ms)
    traffic, counted = counted_traffic(args.requests)
    modes: list[Deployment] = [args.deployment] if args.deployment else list(DEPLOYMENTS)
    bills = [overhead(mode, profile, counted, traffic) for mode in modes]
    if args.json:
        print(json.dumps(bills, indent=2))
        return
    rows = [
        {"deployment": b["deployment"], **b["components_usd_per_million"]}
        | {
            "DynamoDB + SQS + CloudWatch": b["dynamodb_sqs_cloudwatch_usd"],
            "overhead": b["overhead_usd_per_million"],
            "model (DeepSeek V4 Flash, 5,000 in + 2,500 out)": b["model_usd_per_million"],
            "overhead / model": b["overhead_share_of_model"],
        }
        for b in bills
    ]
    print(
        f"USD per million requests, {profile.latency_ms} ms a request; AWS us-east-1 list "
        f"prices as of {bills[0]['prices_as_of']} (infra/prices/aws-us-east-1.json); DynamoDB "
        f"{bills[0]['dynamodb_write_units_per_request']} write units a request, counted over "
        f"{counted.requests:,} requests by the load model\n"
    )
    _print_columns(rows, "deployment")


def _print_columns(rows: list[dict[str, Any]], header: str) -> None:
    """One column per row, one line per field."""
    names = [name for name in rows[0] if name != header]
    width = max(len(name) for name in names)
    cells = [[str(row[header])] + [str(row[name]) for name in names] for row in rows]
    widths = [max(len(c) for c in column) for column in cells]
    print(" " * width + "  " + "  ".join(c[0].rjust(w) for c, w in zip(cells, widths, strict=True)))
    for i, name in enumerate(names, start=1):
        line = "  ".join(c[i].rjust(w) for c, w in zip(cells, widths, strict=True))
        print(f"{name.ljust(width)}  {line}")
