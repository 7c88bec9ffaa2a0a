"""Re-pricing history under moto's Step Functions executor: the deployed reprice definition, its
Lambda run in process (modelyard.local.lambdas), the aggregator's real ledger and counters.

A private model (price items only, so no other test's routing or pricing sees it) is used at
one price for three days; then its price is corrected in place and a new version is back-dated
into the last day, and the job re-prices the history. One page failing after it has written is
retried by the state machine and counts nothing twice.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from handlers.cost_aggregator import handler as aggregate
from modelyard import aws
from modelyard.cli import main
from modelyard.local.stack import USAGE_TABLE, LocalStack
from modelyard.pricing import reprice
from modelyard.pricing.prices import Price, TokenUsage, cost_usd
from modelyard.store.dynamo import from_item
from modelyard.usage.aggregate import spread as counter_spread
from modelyard.usage.events import UsageEvent
from tests.helpers import ledger_items
from tests.integration.test_aggregation import assert_reconciled, sqs_batch, tenant_items

DAYS = ("2026-11-22", "2026-11-23", "2026-11-24")
FIRST = Decimal("1.00"), Decimal("2.00")  # input, output $/M as charged at the time
CORRECTED_INPUT = Decimal("1.10")  # the same version, corrected in place
BACKDATED_OUTPUT = Decimal("2.50")  # a new version from the last day


def price(model: str, effective_from: str, input: Decimal, output: Decimal) -> Price:
    return Price(model, input, output, effective_from, cached_input=Decimal("0.25"))


def usage(i: int) -> TokenUsage:
    return TokenUsage(input_tokens=1000 + 37 * i, output_tokens=200 + 11 * i, cached_tokens=50 * i)


def event(
    model: str,
    tenant: str,
    day: str,
    i: int,
    at: Price,
    status: str = "ok",
    tokens: TokenUsage | None = None,
) -> UsageEvent:
    if tokens is None:
        tokens = usage(i) if status == "ok" else TokenUsage()
    return UsageEvent(
        request_id=f"req_{uuid.uuid4().hex}",
        tenant=tenant,
        key_id=f"key_{tenant}_{i % 2}",
        created_at=f"{day}T10:00:00+00:00",
        day=day,
        status=status,  # type: ignore[arg-type]
        task=("coding", "chat")[i % 2],
        model=model,
        provider="test",
        input_tokens=tokens.input_tokens,
        output_tokens=tokens.output_tokens,
        cached_tokens=tokens.cached_tokens,
        cost_usd=cost_usd(tokens, at),
        price_version=at.version,
    )


def ledger(model: str) -> list[dict[str, Any]]:
    return [i for i in ledger_items() if i.get("model") == model]


def _scan() -> list[dict[str, Any]]:
    pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=USAGE_TABLE)
    return [from_item(i) for page in pages for i in page["Items"]]


def snapshot(model: str, tenants: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every ledger item of `model` and every counter of `tenants`, by key."""
    return {
        (i["pk"], i["sk"]): i
        for i in _scan()
        if (i["sk"] == "LEDGER" and i.get("model") == model)
        or any(t in i["pk"] or t in i["sk"] for t in tenants)
        or i["pk"] == f"MODEL#{model}"
    }


def assert_counters_equal_the_ledger(model: str) -> None:
    """Every counter any ledger item of `model` went into equals the sum of those items, on
    each item and, on a tenant's day item, under its model and task too (the counters are
    private to this test: its tenants, keys and model are unique)."""
    expected: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for item in ledger(model):
        moved = item["cost_usd"] - item.get("original_cost_usd", item["cost_usd"])
        amounts = {"cost_usd": item["cost_usd"], "repricing_delta_usd": moved}
        for key, added in counter_spread(UsageEvent.model_validate(item), amounts).items():
            for name, amount in added.items():
                expected[key][name] += amount
    client = aws.client("dynamodb")
    for (pk, sk), totals in expected.items():
        found = from_item(
            client.get_item(TableName=USAGE_TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
        )
        for name, amount in totals.items():
            assert found.get(name, Decimal(0)) == amount, (pk, sk, name)


@pytest.fixture(scope="module")
def history(stack: LocalStack) -> dict[str, Any]:
    """Usage of a private model over DAYS at its first price, recorded by the aggregator."""
    model = f"reprice-{uuid.uuid4().hex[:8]}"
    first = price(model, "2026-01-01", *FIRST)
    stack.config.put_price(first)
    only_last_day, spread = f"rp-a-{uuid.uuid4().hex[:6]}", f"rp-b-{uuid.uuid4().hex[:6]}"
    events = [event(model, only_last_day, DAYS[2], i, first) for i in range(9)]
    events += [event(model, spread, DAYS[i % 3], i, first) for i in range(12)]
    # no tokens, $0: only its version changes (to the back-dated one), its counters do not
    events.append(event(model, spread, DAYS[2], 99, first, status="failed"))
    # one token: a difference of $0.0000001, which boto3 sends as 1E-7
    events.append(event(model, spread, DAYS[1], 98, first, tokens=TokenUsage(input_tokens=1)))
    for start in range(0, len(events), 10):
        assert aggregate(sqs_batch(events[start : start + 10]), None) == {"batchItemFailures": []}
    assert_reconciled(only_last_day, 9)  # the aggregation tests' own check, before
    return {"model": model, "first": first, "events": events, "tenants": [only_last_day, spread]}


def run_job(stack: LocalStack, model: str, since: str, until: str) -> tuple[str, dict[str, Any]]:
    sfn = aws.client("stepfunctions")
    arn = stack.reprice_state_machine_arn
    job_id = reprice.start_job(sfn, arn, model, since, until)
    status = reprice.wait(sfn, arn, job_id, timeout=30, interval=0.1)
    execution = reprice.execution_arn(arn, job_id)
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    assert status == "SUCCEEDED", events[-3:]
    found = reprice.summary(aws.client("dynamodb"), USAGE_TABLE, job_id)
    assert found is not None
    return job_id, {**found, "history": events}


def test_corrected_price_reprices_history_and_counters_follow(
    stack: LocalStack, history: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, first = history["model"], history["first"]
    corrected = price(model, first.effective_from, CORRECTED_INPUT, FIRST[1])
    backdated = price(model, DAYS[2], CORRECTED_INPUT, BACKDATED_OUTPUT)
    stack.config.put_price(corrected)  # same model and date: corrected in place
    stack.config.put_price(backdated)
    # small pages, so days take several Lambda calls; and the third item written fails its
    # page afterwards (as a Lambda that wrote and then timed out): Retry runs the page again
    monkeypatch.setattr(reprice, "PAGE_SIZE", 4)
    real_item, calls = reprice.reprice_item, []

    def flaky_item(*args: Any, **kwargs: Any) -> Any:
        delta = real_item(*args, **kwargs)
        calls.append(delta)
        if len(calls) == 3:
            raise reprice.TransientError("simulated throttle after the write")
        return delta

    monkeypatch.setattr(reprice, "reprice_item", flaky_item)

    # a day before and after the usage too: nothing to do there
    job_id, summary = run_job(stack, model, "2026-11-21", "2026-11-25")

    failures = [e for e in summary["history"] if e["type"] == "TaskFailed"]
    assert [f["taskFailedEventDetails"]["error"] for f in failures] == ["TransientError"]
    invokes = [
        e
        for e in summary["history"]
        if e["type"] == "TaskSucceeded" and e["taskSucceededEventDetails"]["resource"] == "invoke"
    ]
    # Days, then pages of 4 for 0, 4, 5, 14 and 0 items (DynamoDB may follow a page that is
    # exactly full with an empty one; moto does not)
    assert len(invokes) >= 1 + 1 + 1 + 2 + 4 + 1
    items = ledger(model)
    assert len(items) == len(history["events"])
    by_id = {e.request_id: e for e in history["events"]}
    for item in items:
        original = by_id[item["request_id"]]
        now_in_force = backdated if item["day"] == DAYS[2] else corrected
        exact = cost_usd(
            TokenUsage(
                input_tokens=original.input_tokens,
                output_tokens=original.output_tokens,
                cached_tokens=original.cached_tokens,
            ),
            now_in_force,
        )
        assert item["cost_usd"] == exact
        assert item["original_cost_usd"] == original.cost_usd
        assert item["price_version"] == first.version  # what priced it first, kept
        assert item["repriced_version"] == now_in_force.version
        assert item["repriced_by"] == job_id
    # the corrected input price raised every request that had tokens
    assert all(i["cost_usd"] > i["original_cost_usd"] for i in items if i["status"] == "ok")

    assert_counters_equal_the_ledger(model)
    only_last_day = history["tenants"][0]
    assert_reconciled(only_last_day, 9)  # the aggregation tests' own check, after
    _, counters = tenant_items(only_last_day)
    assert counters["DAY#2026-11-24"]["repricing_delta_usd"] > 0

    deltas = [i["cost_usd"] - i["original_cost_usd"] for i in items]
    assert summary["status"] == "succeeded"
    assert (summary["model"], summary["since"], summary["until"]) == (
        model,
        "2026-11-21",
        "2026-11-25",
    )
    assert summary["items_repriced"] == len(items)  # the failed one: its version, at $0
    assert Decimal(summary["delta_usd"]) == sum(deltas, Decimal(0))


def test_running_the_job_again_changes_nothing(
    stack: LocalStack, history: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    model = history["model"]
    if not any("repriced_version" in i for i in ledger(model)):
        pytest.skip("needs the first re-pricing")
    before = snapshot(model, history["tenants"])

    # through the command line this time; locally it waits and prints the summary
    assert (
        main(["prices", "reprice", "--model", model, "--since", DAYS[0], "--until", DAYS[2]]) == 0
    )
    printed = json.loads(capsys.readouterr().out)

    assert (printed["status"], printed["items_repriced"], printed["delta_usd"]) == (
        "succeeded",
        0,
        "0",
    )
    assert snapshot(model, history["tenants"]) == before
    assert main(["prices", "reprice-status", printed["job_id"]]) == 0
    assert json.loads(capsys.readouterr().out) == printed


def test_reprice_refuses_a_model_without_prices_and_a_bad_range(
    stack: LocalStack, history: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "prices",
                "reprice",
                "--model",
                "no-such-model",
                "--since",
                DAYS[0],
                "--until",
                DAYS[0],
            ]
        )
        == 2
    )
    assert "no price versions" in capsys.readouterr().err
    assert (
        main(
            [
                "prices",
                "reprice",
                "--model",
                history["model"],
                "--since",
                DAYS[2],
                "--until",
                DAYS[0],
            ]
        )
        == 2
    )
    assert "before since" in capsys.readouterr().err
    assert main(["prices", "reprice-status", "reprice_nope"]) == 2


def test_a_stale_read_of_an_item_applies_nothing(
    stack: LocalStack, history: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # as a read from the eventually consistent index may be: the item before re-pricing
    model = history["model"]
    item = next(i for i in ledger(model) if i["status"] == "ok" and "repriced_version" in i)
    stale = {k: v for k, v in item.items() if k != "repriced_version"}
    stale["cost_usd"] = item["original_cost_usd"]
    before = snapshot(model, history["tenants"])
    stack.config.refresh()
    in_force = stack.config.catalog().price(model, item["day"])
    assert in_force is not None

    priced: list[Any] = []
    real = reprice.reprice_transaction
    monkeypatch.setattr(reprice, "reprice_transaction", lambda *a: priced.append(a[2]) or real(*a))

    # the condition fails, the transaction returns the item as it is, and that is right already
    delta = reprice.reprice_item(aws.client("dynamodb"), USAGE_TABLE, in_force, stale, "x", "now")

    assert delta is None
    assert [p["cost_usd"] for p in priced] == [item["original_cost_usd"], item["cost_usd"]]
    assert snapshot(model, history["tenants"]) == before
