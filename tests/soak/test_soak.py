"""Soak: thousands of mixed requests under AWS's and the upstreams' real failure modes, and
the books still balance to the last unit.

The gateway runs on uvicorn over the stack's moto and simulated upstreams, its usage path
under the fault layer (tests/faults.py): SQS batches that fail, time out (before or after SQS
took them) or refuse entries; DynamoDB transactions cancelled for conflicts, throttled, 500s
and timeouts, on the router's direct writes and in the aggregator alike. The upstreams fail
too: 500s, 429s, malformed first chunks, streams cut midway, hangs raced by hedges. Clients
read JSON and streams, hit the response cache, hang up mid-stream, replay idempotent keys,
spend a hard budget, and start durable jobs. At the end:

- every request that reached an upstream (or the cache) has exactly one ledger item, and no
  other request has one;
- the counters equal the ledger, to the last unit, in every amount;
- every attempt in the ledger is priced, and the provider totals are their sums;
- no budget reservation is left held, and the hard budget was never exceeded;
- every usage event the router made was handed off before its response's last byte.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

from handlers.cost_aggregator import process
from modelyard import aws
from modelyard.auth.admin import create_key
from modelyard.auth.budgets import Budget
from modelyard.local.poller import UsagePoller
from modelyard.local.stack import REGION, LocalStack
from modelyard.pricing.ceiling import worst_case_cost
from modelyard.routing.planner import RequestFeatures, RouteRequest, plan_route
from modelyard.settings import get_settings
from modelyard.store.dynamo import from_item, query_all, to_item
from modelyard.usage.aggregate import LEDGER_INDEX, ledger_index_pk
from modelyard.usage.publisher import UsagePublisher
from modelyard.usage.sqs import SqsBatchSender
from tests.faults import FaultyDynamoDB, FaultySender
from tests.handoff import HandoffGateway

#: MODELYARD_SOAK_REQUESTS overrides the size (`make soak` runs the full one)
REQUESTS = int(os.environ.get("MODELYARD_SOAK_REQUESTS", "2000"))
JOBS = 12
THREADS = 8
UPSTREAM_FAULTS = (
    "deepseek-v4-flash=500:0.1,qwen3-32b=429:0.05,kimi-k2.5=malformed:0.15,"
    "claude-4-sonnet=midstream:0.1,gpt-4o=timeout:0.3"
)
#: gpt-4o, which hangs, serves only the hedged requests (a hang costs the attempt timeout)
MODELS = ["deepseek-v4-flash", "qwen3-32b", "kimi-k2.5", "claude-4-sonnet"]
BUDGETED = {
    "model": "qwen3-32b",
    "max_tokens": 12,
    "messages": [{"role": "user", "content": "budgeted [sim:tokens=12]"}],
}


def chat(model: str, i: int, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 40,
        "messages": [{"role": "user", "content": f"soak {i} [sim:tokens={4 + i % 9}]"}],
        "modelyard": {"fallbacks": ["yi-lightning"]},
        **extra,
    }


class Soak:
    """The mixed workload; `sent` keeps every response's request id and what it was."""

    def __init__(self, base_url: str, key: str, budget_key: str) -> None:
        self.base_url = base_url
        self.key, self.budget_key = key, budget_key
        #: (kind, request id, status, error code)
        self.sent: list[tuple[str, str, int, str | None]] = []

    def one(self, http: httpx.Client, i: int) -> None:
        kind, path, body, headers, secret = self.request(i)
        auth = {"authorization": f"Bearer {secret}", **headers}
        if kind == "disconnect":
            with http.stream("POST", self.base_url + path, json=body, headers=auth) as r:
                lines = r.iter_lines()
                for _ in range(3):
                    next(lines, None)
        else:
            r = http.post(self.base_url + path, json=body, headers=auth)
        code = r.json().get("error", {}).get("code") if r.status_code == 429 else None
        self.sent.append((kind, r.headers["x-modelyard-request-id"], r.status_code, code))

    def request(self, i: int) -> tuple[str, str, dict[str, Any], dict[str, str], str]:
        model = MODELS[i % len(MODELS)]
        slot = i % 20
        if slot < 6:
            return "json", "/chat/completions", chat(model, i), {}, self.key
        if slot < 10:
            body = chat(model, i, stream=True, stream_options={"include_usage": True})
            return "stream", "/chat/completions", body, {}, self.key
        if slot < 13:  # five prompts at temperature 0: hits after the first of each
            body = chat("deepseek-v4-flash", i % 5, temperature=0)
            return "cache", "/chat/completions", body, {}, self.key
        if slot == 13:
            body = chat("qwen3-32b", i, stream=True)
            body["messages"][0]["content"] = "a long answer [sim:tokens=400]"
            body["max_tokens"] = 400
            return "disconnect", "/chat/completions", body, {}, self.key
        if slot == 14:
            body = chat("gpt-4o", i)
            body["modelyard"]["hedge"] = True
            return "hedge", "/chat/completions", body, {}, self.key
        if slot == 15:
            body = {
                "model": "claude-4-sonnet",
                "max_tokens": 30,
                "messages": chat(model, i)["messages"],
            }
            return "messages", "/messages", body, {}, self.key
        if slot == 16:
            body = {"model": "text-embedding-3-small", "input": f"soak {i}"}
            return "embeddings", "/embeddings", body, {}, self.key
        if slot == 17:
            return (
                "idempotent",
                "/chat/completions",
                chat(model, i),
                {"idempotency-key": f"soak-{i}"},
                self.key,
            )
        stream = slot == 19
        return "budget", "/chat/completions", {**BUDGETED, "stream": stream}, {}, self.budget_key


@pytest.fixture(scope="module")
def faulty() -> Iterator[tuple[FaultyDynamoDB, FaultyDynamoDB, FaultySender]]:
    settings = get_settings()
    router_db = FaultyDynamoDB(aws.client("dynamodb"), rate=0.15, seed=1)
    aggregator_db = FaultyDynamoDB(aws.client("dynamodb"), rate=0.15, seed=2)
    sender = FaultySender(SqsBatchSender(settings.usage_queue_url or "", aws.client), rate=0.1)
    yield router_db, aggregator_db, sender


def ledger_of(tenants: set[str], day: str, models: list[str]) -> dict[str, dict[str, Any]]:
    """The tenants' ledger items of `day` by request id, found through the ledger index (a
    scan of the whole table is more than moto answers in time here)."""
    client, table = patient_reader(), get_settings().usage_table
    ids = {
        item["request_id"]
        for model in models
        for item in query_all(
            client,
            TableName=table,
            IndexName=LEDGER_INDEX,
            KeyConditionExpression="ledger_pk = :pk",
            ExpressionAttributeValues={":pk": {"S": ledger_index_pk(model, day)}},
        )
        if item["tenant"] in tenants
    }
    found: dict[str, dict[str, Any]] = {}
    keys = [to_item({"pk": f"REQ#{rid}", "sk": "LEDGER"}) for rid in sorted(ids)]
    while keys:
        chunk, keys = keys[:100], keys[100:]
        response = client.batch_get_item(
            RequestItems={table: {"Keys": chunk, "ConsistentRead": True}}
        )
        for item in response["Responses"].get(table, []):
            found[str(from_item(item)["request_id"])] = from_item(item)
        keys += response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
    return found


def patient_reader() -> Any:
    """A DynamoDB client that waits for moto: a query over the ledger index walks the whole
    table, which on a busy machine takes longer than the gateway's 5 s read timeout."""
    import boto3
    from botocore.config import Config

    return boto3.client("dynamodb", config=Config(read_timeout=300, retries={"max_attempts": 2}))


def item_at(pk: str, sk: str) -> dict[str, Any]:
    response = patient_reader().get_item(
        TableName=get_settings().usage_table, Key=to_item({"pk": pk, "sk": sk}), ConsistentRead=True
    )
    return from_item(response.get("Item") or {})


def drain(poller: UsagePoller) -> None:
    """One pass of the aggregator's trigger; a receive that times out is tried on the next
    pass, as Lambda's poller would (moto, starved of CPU, does time out)."""
    with contextlib.suppress(ReadTimeoutError, ConnectTimeoutError):
        poller.drain()


def queue_empty(stack: LocalStack) -> bool:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(v == "0" for v in attributes.values())


def test_mixed_requests_under_aws_and_upstream_faults_balance_to_the_last_unit(
    stack: LocalStack, sim, faulty
):
    router_db, aggregator_db, sender = faulty
    settings = get_settings()
    sim.configure_now(faults=UPSTREAM_FAULTS)
    sim.retry_after = "0"  # a 429 is retried at once: the soak measures books, not waits
    publisher = UsagePublisher(
        settings.usage_queue_url,
        settings.usage_table,
        lambda service: router_db if service == "dynamodb" else aws.client(service),
        sender=sender,
    )
    served = HandoffGateway(publisher)
    tenant, budget_tenant = f"soak-{uuid.uuid4().hex[:6]}", f"soakb-{uuid.uuid4().hex[:6]}"
    key, _ = create_key(stack.config, stack.pepper, tenant)
    # room for about a quarter of the budgeted requests (a tenth of all): the rest are refused
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    budgeted = plan_route(
        RouteRequest.from_body(BUDGETED),
        RequestFeatures.from_chat(BUDGETED),
        stack.config.catalog(),
        today=day,
    )
    worst = worst_case_cost(budgeted.candidates, BUDGETED)
    assert worst is not None
    limit = worst * max(1, REQUESTS // 40)
    budget_key, budget_record = create_key(
        stack.config, stack.pepper, budget_tenant, budget=Budget(daily_usd=limit)
    )
    soak = Soak(served.base_url, key, budget_key)
    poller = UsagePoller(
        aws.client("sqs"),
        stack.queue_url,
        stack.queue_arn,
        REGION,
        handle=lambda event: process(event, None, aggregator_db),
    )
    started = time.monotonic()
    try:
        with httpx.Client(timeout=60) as http:
            jobs = [
                http.post(
                    served.base_url + "/chat/completions",
                    json=chat("qwen3-32b", i),
                    headers={"authorization": f"Bearer {key}", "prefer": "respond-async"},
                )
                for i in range(JOBS)
            ]
            assert [j.status_code for j in jobs] == [202] * JOBS
            counter = itertools.count()

            def worker() -> None:
                with httpx.Client(timeout=60) as mine:
                    while (i := next(counter)) < REQUESTS:
                        soak.one(mine, i)

            with concurrent.futures.ThreadPoolExecutor(THREADS + 1) as pool:
                workers = [pool.submit(worker) for _ in range(THREADS)]
                while not all(w.done() for w in workers):
                    drain(poller)  # the aggregator keeps up as Lambda's trigger would
                    time.sleep(0.05)
                for w in workers:
                    w.result()
            for job in jobs:
                while (
                    http.get(
                        served.base_url + f"/jobs/{job.json()['id']}",
                        headers={"authorization": f"Bearer {key}"},
                    ).json()["status"]
                    == "running"
                ):
                    time.sleep(0.05)
        while not queue_empty(stack):  # refused batches come back after the visibility timeout
            drain(poller)
            time.sleep(0.1)
        elapsed = time.monotonic() - started
    finally:
        served.stop()
        sim.retry_after = "1"

    kinds = Counter(kind for kind, _, _, _ in soak.sent)
    statuses = Counter(status for _, _, status, _ in soak.sent)
    print(
        f"soak: {len(soak.sent)} requests + {JOBS} jobs in {elapsed:.1f} s; {dict(kinds)}; "
        f"statuses {dict(statuses)}; router DynamoDB faults {dict(router_db.counts)}; "
        f"aggregator DynamoDB faults {dict(aggregator_db.counts)}; SQS faults {dict(sender.counts)}"
    )
    assert len(soak.sent) == REQUESTS
    assert set(statuses) <= {200, 429, 502}, statuses

    ledger = ledger_of({tenant, budget_tenant}, day, list(stack.config.catalog().models))
    refused = {rid for _, rid, _, code in soak.sent if code == "budget_exceeded"}
    expected = {rid for _, rid, _, _ in soak.sent} - refused
    expected |= {job.headers["x-modelyard-request-id"] for job in jobs}
    assert set(ledger) == expected, "one ledger item per request that reached an upstream"

    for name in (tenant, budget_tenant):
        mine = [i for i in ledger.values() if i["tenant"] == name]
        for of in {i["day"] for i in mine}:
            total = item_at(f"TENANT#{name}", f"DAY#{of}")
            of_day = [i for i in mine if i["day"] == of]
            assert total["requests"] == len(of_day)
            for amount in ("cost_usd", "provider_cost_usd", "input_tokens", "output_tokens"):
                assert total[amount] == sum(Decimal(i.get(amount, 0)) for i in of_day), amount
            failed = sum(1 for i in of_day if i["status"] == "failed")
            assert total["failed_requests"] == failed

    for item in ledger.values():
        tried = [a for a in item.get("attempts", []) if a["status"] != "skipped"]
        assert all(a.get("cost_usd") is not None for a in tried), item["request_id"]
        assert item["provider_cost_usd"] == sum((a["cost_usd"] for a in tried), Decimal(0))
        if not tried:  # a cache hit: nothing invoiced, nothing charged
            assert item["cache"] == "hit" and item["cost_usd"] == 0, item["request_id"]
    for job in jobs:  # every call a job made is on its ledger item, priced as above
        assert ledger[job.headers["x-modelyard-request-id"]]["attempts"]

    window = item_at(f"BUDGET#KEY#{budget_record.key_id}", f"DAY#{day}")
    assert not [name for name in window if name.startswith("r_")], "no reservation held"
    spent = sum(
        (i["cost_usd"] for i in ledger.values() if i["tenant"] == budget_tenant), Decimal(0)
    )
    assert window["committed"] == spent, "reservations settled to the ledger exactly"
    assert spent <= limit, "the hard budget held"
    assert refused, "the budget was spent and refused the rest"

    # a client that hangs up gets no more bytes: its stream is recorded as the relay closes
    late = [
        (kind, rid)
        for kind, rid, _, _ in soak.sent
        if rid in ledger
        and not (
            rid in served.log.handed_off
            if kind == "disconnect"
            else served.log.handed_off_first(rid)
        )
    ]
    assert not late, f"{len(late)} usage events handed off after the last byte: {late[:5]}"
