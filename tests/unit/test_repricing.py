"""modelyard.pricing.reprice without AWS: which items change, and what one transaction writes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from modelyard.pricing.prices import Price, TokenUsage, cost_usd
from modelyard.pricing.reprice import days, reprice_transaction
from modelyard.store.dynamo import from_item
from modelyard.usage.aggregate import counter_keys, ledger_item
from modelyard.usage.events import UsageEvent

OLD = Price("m", Decimal("1"), Decimal("2"), "2026-01-01")
NEW = Price("m", Decimal("1.5"), Decimal("2"), "2026-01-01")  # corrected in place
TOKENS = TokenUsage(input_tokens=1234, output_tokens=567)


def item(**changes: Any) -> dict[str, Any]:
    event = UsageEvent(
        request_id="req_1",
        tenant="t",
        key_id="k",
        created_at="2026-03-01T00:00:00+00:00",
        day="2026-03-01",
        status="ok",
        task="coding",
        model="m",
        input_tokens=TOKENS.input_tokens,
        output_tokens=TOKENS.output_tokens,
        cost_usd=cost_usd(TOKENS, OLD),
        price_version=OLD.version,
    )
    return {**ledger_item(event), **changes}


def test_ledger_items_carry_the_ledger_index_keys() -> None:
    assert (item()["ledger_pk"], item()["ledger_sk"]) == ("m#2026-03-01", "req_1")


def test_an_item_already_at_the_price_is_left_alone() -> None:
    assert reprice_transaction("usage", OLD, item(), "job", "now") is None


def test_a_corrected_price_updates_the_item_its_counters_and_the_summary() -> None:
    found = reprice_transaction("usage", NEW, item(), "job", "now")
    assert found is not None
    writes, delta = found
    assert delta == cost_usd(TOKENS, NEW) - cost_usd(TOKENS, OLD) == Decimal("0.000617")
    ledger, *counters, summary = [w["Update"] for w in writes]
    assert ledger["ConditionExpression"] == (
        "cost_usd = :old AND attribute_not_exists(repriced_version)"
    )
    values = from_item(ledger["ExpressionAttributeValues"])
    assert (values[":old"], values[":new"]) == (cost_usd(TOKENS, OLD), cost_usd(TOKENS, NEW))
    assert (
        "original_cost_usd = if_not_exists(original_cost_usd, :old)" in (ledger["UpdateExpression"])
    )
    keys = [(from_item(c["Key"])["pk"], from_item(c["Key"])["sk"]) for c in counters]
    assert keys == counter_keys(UsageEvent.model_validate(item()))
    assert all(set(from_item(c["ExpressionAttributeValues"]).values()) == {delta} for c in counters)
    names = {n for c in counters for n in c["ExpressionAttributeNames"].values()}
    assert {"cost_usd", "repricing_delta_usd"} < names  # and the model's and task's on the day
    assert any(n.startswith("m#") and n.endswith("#cost_usd") for n in names)
    assert from_item(summary["Key"]) == {"pk": "REPRICE#job", "sk": "JOB"}


def test_a_second_correction_is_conditional_on_the_first() -> None:
    first = item(cost_usd=cost_usd(TOKENS, NEW), repriced_version=NEW.version)
    again = Price("m", Decimal("1.25"), Decimal("2"), "2026-01-01")
    found = reprice_transaction("usage", again, first, None, "now")
    assert found is not None
    (ledger,) = [w["Update"] for w in found[0] if w["Update"]["Key"]["pk"]["S"] == "REQ#req_1"]
    assert ledger["ConditionExpression"] == "cost_usd = :old AND repriced_version = :seen"


def test_a_new_version_at_the_same_cost_changes_only_the_version() -> None:
    same = Price("m", OLD.input, OLD.output, "2026-02-01")
    found = reprice_transaction("usage", same, item(), "job", "now")
    assert found is not None
    writes, delta = found
    assert delta == 0
    assert [from_item(w["Update"]["Key"])["pk"] for w in writes] == ["REQ#req_1", "REPRICE#job"]


def test_days_are_inclusive_and_bounded() -> None:
    assert days("2026-02-27", "2026-03-01") == ["2026-02-27", "2026-02-28", "2026-03-01"]
    with pytest.raises(ValueError, match="before"):
        days("2026-03-02", "2026-03-01")
    with pytest.raises(ValueError, match="at most"):
        days("2020-01-01", "2026-01-01")
