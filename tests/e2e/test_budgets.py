"""Budgets enforced at admission: concurrent requests never push spend past a hard budget."""

from __future__ import annotations

import concurrent.futures
import time
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from modelyard import aws
from modelyard.auth.admin import create_key
from modelyard.auth.budgets import Budget, BudgetGuard
from modelyard.auth.tenants import TenantSettings
from modelyard.local.stack import LocalStack
from modelyard.pricing.ceiling import input_token_ceiling
from modelyard.settings import get_settings
from modelyard.store.budgets import BudgetStore, Reservation
from modelyard.store.dynamo import from_item
from modelyard.usage import aggregate
from modelyard.usage.events import UsageEvent
from tests.helpers import ledger_items

BODY = {
    "model": "qwen3-32b",
    "max_tokens": 20,
    "messages": [{"role": "user", "content": "hello [sim:tokens=20]"}],
}
#: the most BODY can cost on qwen3-32b ($0.10 in, $0.35 out per M): its input ceiling, 20 out
WORST_CASE = (
    Decimal(input_token_ceiling(BODY)) * Decimal("0.10") + Decimal(20) * Decimal("0.35")
) / 10**6


def key_with(stack: LocalStack, tenant: str, budget: Budget | None) -> str:
    secret, _ = create_key(stack.config, stack.pepper, tenant, budget=budget)
    return secret


def post(stack: LocalStack, secret: str, body: dict = BODY) -> httpx.Response:
    return httpx.post(
        f"{stack.base_url}/chat/completions",  # type: ignore[attr-defined]
        json=body,
        headers={"authorization": f"Bearer {secret}"},
        timeout=30,
    )


def test_parallel_requests_never_overshoot_a_hard_budget(stack: LocalStack, sim):
    sim.configure_now(latency="realistic")  # requests overlap for ~0.8 s each
    budget = WORST_CASE * 6
    secret = key_with(stack, "budget-hard", Budget(daily_usd=budget))
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(lambda _: post(stack, secret), range(24)))
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    odd = [(r.status_code, r.text[:200]) for r in responses if r.status_code not in (200, 429)]
    assert not odd, odd  # neither served nor refused: say what came back
    assert len(ok) >= 1 and refused
    assert {r.json()["error"]["code"] for r in refused} == {"budget_exceeded"}
    assert all(int(r.headers["retry-after"]) > 0 for r in refused)
    stack.poller.drain()
    spent = sum(
        (ledger_items(r.headers["x-modelyard-request-id"])[0]["cost_usd"] for r in ok),
        Decimal(0),
    )
    assert spent <= budget


def test_a_soft_budget_warns_instead_of_refusing(stack: LocalStack):
    secret = key_with(stack, "budget-soft", Budget(daily_usd=WORST_CASE / 2, hard=False))
    first = post(stack, secret)
    assert first.status_code == 200
    assert "over" in first.headers["x-modelyard-budget-warning"]


def test_a_tenant_budget_binds_every_key_of_the_tenant(stack: LocalStack):
    budget = Budget(daily_usd=WORST_CASE * Decimal("1.5"))
    stack.config.put_tenant("budget-tenant", TenantSettings(budget=budget))
    one, two = key_with(stack, "budget-tenant", None), key_with(stack, "budget-tenant", None)
    assert post(stack, one).status_code == 200
    stack.app.state.gateway().config.refresh()  # type: ignore[attr-defined]
    refused = post(stack, two)
    assert refused.status_code == 429
    assert "tenant budget" in refused.json()["error"]["message"]


def test_a_reservation_whose_request_died_expires_by_itself(stack: LocalStack):
    store = BudgetStore(get_settings().usage_table, aws.client("dynamodb"))
    guard = BudgetGuard(store, hold_seconds=1)
    budget = Budget(daily_usd=Decimal("1.00"))
    now = datetime.now(UTC)
    scope = f"KEY#dead-{time.time_ns()}"
    guard.admit("req_dead", [(scope, budget)], Decimal("0.80"), now)  # never settled
    time.sleep(1.1)
    admission = guard.admit("req_next", [(scope, budget)], Decimal("0.80"), now)
    guard.settle(admission, Decimal("0.25"))
    assert store.committed(scope, f"DAY#{now:%Y-%m-%d}") == Decimal("0.25")


def test_admission_reports_how_full_each_budget_is(stack: LocalStack, capfd):
    import json

    secret = key_with(stack, "budget-metric", Budget(daily_usd=WORST_CASE * 10))
    capfd.readouterr()
    assert post(stack, secret).status_code == 200
    blobs = [
        json.loads(line)
        for line in capfd.readouterr().out.splitlines()
        if line.startswith('{"_aws"') and "BudgetUsedPercent" in line
    ]
    [blob] = blobs
    assert blob["scope"].startswith("key:key_")
    [used] = blob["BudgetUsedPercent"]
    assert 5 < used <= 10  # one worst-case reservation, of a budget of about ten of them


def _start_job(stack: LocalStack, secret: str) -> httpx.Response:
    return httpx.post(
        f"{stack.base_url}/chat/completions",  # type: ignore[attr-defined]
        json=BODY,
        headers={"authorization": f"Bearer {secret}", "prefer": "respond-async"},
        timeout=30,
    )


def _window(stack: LocalStack, scope: str) -> dict:
    item = aws.client("dynamodb").get_item(
        TableName=get_settings().usage_table,
        Key={"pk": {"S": f"BUDGET#{scope}"}, "sk": {"S": f"DAY#{datetime.now(UTC):%Y-%m-%d}"}},
        ConsistentRead=True,
    )["Item"]
    return from_item(item)


def test_an_async_job_reserves_its_budget_and_its_usage_event_settles_it(stack: LocalStack):
    secret, record = create_key(
        stack.config, stack.pepper, "budget-async", budget=Budget(daily_usd=WORST_CASE * 10)
    )
    accepted = _start_job(stack, secret)
    assert accepted.status_code == 202, accepted.text
    request_id = accepted.headers["x-modelyard-request-id"]
    key_id = record.key_id
    held = _window(stack, f"KEY#{key_id}")
    assert Decimal(held[f"r_{request_id}"]["amount"]) == held["committed"] > 0  # the worst case

    [entry] = ledger_items(request_id, wait=30)  # the job ran, the aggregator ledgered it
    settled = _window(stack, f"KEY#{key_id}")
    assert f"r_{request_id}" not in settled
    assert settled["committed"] == entry["cost_usd"] > 0  # the real cost replaced the hold

    event = UsageEvent.model_validate(
        {**entry, "reservations": [Reservation(f"KEY#{key_id}", settled["sk"], held["committed"])]}
    )  # delivered again: ledgered and settled once only
    table = get_settings().usage_table
    assert aggregate.record(aws.client("dynamodb"), table, event) == "duplicate"
    assert _window(stack, f"KEY#{key_id}")["committed"] == entry["cost_usd"]


def test_an_async_job_over_its_budget_is_refused_before_it_starts(stack: LocalStack):
    secret = key_with(stack, "budget-async-small", Budget(daily_usd=WORST_CASE / 2))
    refused = _start_job(stack, secret)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "budget_exceeded"


def test_a_lapsed_reservation_still_counts_the_cost_once(stack: LocalStack):
    """A job whose hold expired (and was given back) before its event arrived: the event adds
    its cost to the window, once, however often it is delivered."""
    client, table = aws.client("dynamodb"), get_settings().usage_table
    store = BudgetStore(table, client)
    scope, day = f"KEY#lapsed-{time.time_ns()}", f"DAY#{datetime.now(UTC):%Y-%m-%d}"
    hold = Reservation(scope, day, Decimal("0.50"))
    request_id = f"req_lapsed_{time.time_ns()}"
    store.reserve(scope, day, request_id, hold.amount, Decimal(1), 0, int(time.time()) + 3600)
    time.sleep(1.1)
    assert store.release_expired(scope, day) == 1
    event = UsageEvent(
        request_id=request_id,
        tenant="lapsed",
        key_id=scope,
        created_at=datetime.now(UTC).isoformat(),
        day=day[4:],
        status="ok",
        cost_usd=Decimal("0.20"),
        reservations=[hold],
    )
    assert aggregate.record(client, table, event) == "recorded"
    assert aggregate.record(client, table, event) == "duplicate"
    assert store.committed(scope, day) == Decimal("0.20")
