"""`modelyard prices reprice` and `reprice-status`: re-price history after a price correction."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


def register(prices: Any) -> None:
    """Add `reprice` and `reprice-status` to the `modelyard prices` subcommands."""
    from modelyard.cli import _date

    start = prices.add_parser(
        "reprice",
        help="re-price a model's ledger at the prices now in force (a Step Functions job)",
        description="Start the reprice state machine for MODEL from SINCE to UNTIL: every "
        "ledger item priced differently from the version now in force for its day gets its "
        "exact new cost (the original kept), and its counters get the difference. With --wait "
        "(the default against a local endpoint) it waits and prints the job's summary.",
    )
    start.add_argument("--model", required=True)
    start.add_argument("--since", required=True, type=_date, help="first day, YYYY-MM-DD")
    start.add_argument("--until", required=True, type=_date, help="last day, YYYY-MM-DD")
    start.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="wait for the job and print its summary (default: only against AWS_ENDPOINT_URL)",
    )
    start.set_defaults(func=_reprice)
    status = prices.add_parser("reprice-status", help="a reprice job's summary")
    status.add_argument("job", help="job id (reprice_...)")
    status.set_defaults(func=_status)


def _state_machine_arn(sfn: Any) -> str:
    """MODELYARD_REPRICE_STATE_MACHINE_ARN, or the local stack's machine found by its name."""
    from modelyard.cli import CommandError
    from modelyard.local.durable import REPRICE_STATE_MACHINE
    from modelyard.settings import get_settings

    arn = get_settings().reprice_state_machine_arn
    if arn:
        return arn
    if os.environ.get("AWS_ENDPOINT_URL"):
        for machine in sfn.list_state_machines()["stateMachines"]:
            if machine["name"] == REPRICE_STATE_MACHINE:
                return str(machine["stateMachineArn"])
    raise CommandError(
        "no reprice state machine: set MODELYARD_REPRICE_STATE_MACHINE_ARN "
        "(the stack output RepriceStateMachineArn)"
    )


def _reprice(args: argparse.Namespace) -> None:
    from modelyard import aws
    from modelyard.cli import CommandError, _config_repository
    from modelyard.pricing import reprice
    from modelyard.settings import get_settings

    if not _config_repository().catalog().prices.get(args.model):
        raise CommandError(f"no price versions for model {args.model!r}")
    sfn = aws.client("stepfunctions")
    arn = _state_machine_arn(sfn)
    job_id = reprice.start_job(sfn, arn, args.model, args.since, args.until)
    wait = args.wait if args.wait is not None else bool(os.environ.get("AWS_ENDPOINT_URL"))
    if not wait:
        print(json.dumps({"job_id": job_id, "status": "running"}))
        return
    status = reprice.wait(sfn, arn, job_id)
    found = reprice.summary(aws.client("dynamodb"), get_settings().usage_table, job_id)
    print(json.dumps(found or {"job_id": job_id, "status": status.lower()}, default=str))
    if status != "SUCCEEDED":
        raise CommandError(f"re-pricing job {job_id} ended {status}")


def _status(args: argparse.Namespace) -> None:
    from modelyard import aws
    from modelyard.cli import CommandError
    from modelyard.pricing import reprice
    from modelyard.settings import get_settings

    found = reprice.summary(aws.client("dynamodb"), get_settings().usage_table, args.job)
    if found is None:
        raise CommandError(f"no re-pricing job {args.job!r}")
    print(json.dumps(found, default=str))
