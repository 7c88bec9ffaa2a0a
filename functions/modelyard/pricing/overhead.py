"""The gateway's own AWS bill per million requests, from counted calls and published prices.

Per request: one API Gateway REST request; the router's Lambda time (on-demand: GB-seconds for
the whole upstream wait; Managed Instances: the instance's share, bounded by CPU or by the
requests one instance holds at once); the aggregator's invocations per batch; DynamoDB write
and read units as the load model counts them for the batch design (usage.load_model), plus
the router's budget reservation and settlement; SQS requests (batches of ten each way); log
bytes and EMF metrics; for the share of asynchronous jobs, Step Functions transitions (the
fallback machine's success path, counted from its definition) and their functions' time (the
attempt waits the whole upstream call on on-demand Lambda in both modes). Beside it, the
model cost of the same requests. Prices: infra/prices/aws-us-east-1.json (their source and
date inside).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from modelyard.deployment import Deployment, overlay
from modelyard.usage.load_model import Result, Traffic, run

INFRA = Path(__file__).resolve().parents[3] / "infra"
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Profile:
    """The traffic the bill is for; defaults: the brief's table (DeepSeek V4 Flash, 5,000 in
    and 2,500 out tokens) and its seed speed (420 ms to the first token, 60 tokens a second)."""

    input_tokens: int = 5_000
    output_tokens: int = 2_500
    input_usd_per_million: Decimal = Decimal("0.14")
    output_usd_per_million: Decimal = Decimal("0.28")
    latency_ms: int = 420 + 2_500 * 1000 // 60
    router_memory_mb: int = 1024  # template.yaml RouterFunction
    aggregator_memory_mb: int = 512  # template.yaml Globals
    #: the router's CPU per request: bench/run.py's "CPU per request: gateway" row (1.9 ms)
    cpu_ms: Decimal = Decimal(2)
    #: Managed Instances: concurrent requests per environment (infra/managed-instances.json),
    #: one environment per vCPU, and the CPU share to plan for
    concurrency_per_environment: int = field(default_factory=lambda: _concurrency())
    utilization: Decimal = Decimal("0.6")
    #: budget windows a request reserves and settles (each: two UpdateItems of one unit)
    budget_windows: int = 1
    #: one log line a request (the router's), Lambda's START/END/REPORT, API Gateway's access log
    log_bytes: int = 600 + 350 + 400
    async_share: Decimal = Decimal("0.01")
    #: a job's functions (template.yaml Globals): its attempt waits the whole upstream call,
    #: its usage hand-off (JobUsage) about one SQS or DynamoDB round trip
    job_memory_mb: int = 512
    job_usage_ms: int = 100
    #: requests a month, over which the fixed monthly metric charge is spread
    monthly_requests: int = 10_000 * 86_400 * 30 // 2
    #: aggregator: DynamoDB latency per sequential call, to turn a batch's calls into seconds
    dynamodb_call_ms: int = 6


def _concurrency() -> int:
    config = overlay()["RouterFunction"]["CapacityProviderConfig"]
    return int(config["PerExecutionEnvironmentMaxConcurrency"])


def prices() -> dict[str, Any]:
    return json.loads((INFRA / "prices" / "aws-us-east-1.json").read_text(), parse_float=Decimal)


def _usd(table: dict[str, Any], name: str) -> Decimal:
    return Decimal(table["prices"][name]["usd"])


def fallback_transitions() -> int:
    """State transitions of one job that succeeds on its first candidate."""
    machine = json.loads((INFRA / "statemachine" / "fallback.asl.json").read_text())
    name, count = machine["StartAt"], 0
    while name:
        state = machine["States"][name]
        count += 1
        name = state["Choices"][0]["Next"] if state["Type"] == "Choice" else state.get("Next")
    return count


def overhead(
    deployment: Deployment, profile: Profile, counted: Result, traffic: Traffic
) -> dict[str, Any]:
    """USD per million requests by component, the model cost beside them."""
    table = prices()
    seconds = Decimal(profile.latency_ms) / 1000
    router = _usd(table, "lambda_request_per_million")
    if deployment == "on-demand":
        gb = Decimal(profile.router_memory_mb) / 1024
        router += gb * seconds * _usd(table, "lambda_arm_gb_second") * MILLION
    else:
        instance = table["prices"]["ec2_c7g_xlarge_hour"]
        fee = 1 + Decimal(table["prices"]["lambda_managed_instances_fee"]["ratio"])
        per_second = Decimal(instance["usd"]) * fee / 3600
        vcpus = Decimal(instance["vcpus"])
        cpu_bound = profile.cpu_ms / 1000 / (vcpus * profile.utilization)
        held = seconds / (vcpus * profile.concurrency_per_environment)
        router += per_second * max(cpu_bound, held) * MILLION
    batch = Decimal(traffic.batch_size)
    calls = batch / 16 + Decimal(counted.transactions) / counted.requests * batch + 2
    aggregator_seconds = calls * profile.dynamodb_call_ms / 1000
    aggregator = (
        _usd(table, "lambda_request_per_million") / batch
        + Decimal(profile.aggregator_memory_mb)
        / 1024
        * aggregator_seconds
        / batch
        * _usd(table, "lambda_arm_gb_second")
        * MILLION
    )
    writes = Decimal(counted.write_units) / counted.requests + 2 * profile.budget_windows
    reads = Decimal(str(counted.read_units)) / counted.requests
    dynamodb = writes * _usd(table, "dynamodb_write_request_unit_per_million") + reads * _usd(
        table, "dynamodb_read_request_unit_per_million"
    )
    sqs = Decimal(3) / 10 * _usd(table, "sqs_standard_request_per_million")  # send, receive, delete
    metrics = _metric_count() * _usd(table, "cloudwatch_metric_month")
    cloudwatch = (
        Decimal(profile.log_bytes) / 10**9 * _usd(table, "cloudwatch_logs_ingest_gb") * MILLION
        + metrics * MILLION / profile.monthly_requests
    )
    jobs = (
        profile.async_share
        * fallback_transitions()
        * _usd(table, "step_functions_standard_transition_per_thousand")
        * 1000
    )
    job_seconds = seconds + Decimal(profile.job_usage_ms) / 1000
    job_functions = profile.async_share * (
        2 * _usd(table, "lambda_request_per_million")
        + Decimal(profile.job_memory_mb)
        / 1024
        * job_seconds
        * _usd(table, "lambda_arm_gb_second")
        * MILLION
    )
    components = {
        "API Gateway (REST)": _usd(table, "api_gateway_rest_per_million"),
        "Lambda: router": router,
        "Lambda: aggregator": aggregator,
        "Lambda: jobs (attempt, usage hand-off)": job_functions,
        "DynamoDB": dynamodb,
        "SQS": sqs,
        "CloudWatch (logs, metrics)": cloudwatch,
        "Step Functions (jobs)": jobs,
    }
    total = sum(components.values(), Decimal(0))
    model = (
        profile.input_tokens * profile.input_usd_per_million
        + profile.output_tokens * profile.output_usd_per_million
    )  # per million requests: per-million prices times tokens a request
    cent = Decimal("0.01")
    return {
        "deployment": deployment,
        "latency_ms": profile.latency_ms,
        "components_usd_per_million": {
            k: str(v.quantize(cent, ROUND_HALF_EVEN)) for k, v in components.items()
        },
        "dynamodb_write_units_per_request": str(writes.quantize(cent)),
        "dynamodb_sqs_cloudwatch_usd": str((dynamodb + sqs + cloudwatch).quantize(cent)),
        "overhead_usd_per_million": str(total.quantize(cent)),
        "model_usd_per_million": str(model.quantize(cent)),
        "overhead_share_of_model": f"{total / model:.2%}",
        "prices_as_of": table["as_of"],
    }


def _metric_count(models: int = 20, providers: int = 8, tasks: int = 9) -> int:
    """Custom metrics the aggregator's EMF makes (usage.metrics): each of its totals for the
    service and per model, provider and task, and latency per model."""
    from modelyard.usage import metric_names as m

    totals = (
        m.COST_USD,
        m.REQUESTS,
        m.INPUT_TOKENS,
        m.OUTPUT_TOKENS,
        m.FAILED_REQUESTS,
        m.UPSTREAM_ERRORS,
        m.CACHE_HITS,
        m.CACHE_MISSES,
        m.CACHE_SAVED_USD,
    )
    return len(totals) * (1 + models + providers + tasks) + models  # + LatencyMs per model


def counted_traffic(requests: int) -> tuple[Traffic, Result]:
    """The batch design's counted calls for `requests` at the peak rate's batching."""
    traffic = Traffic(seconds=max(1, round(requests / Traffic.rps)))
    return traffic, run(traffic, "per-batch")
