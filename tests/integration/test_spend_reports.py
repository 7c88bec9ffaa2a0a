"""`modelyard spend` and `modelyard cost savings` read the aggregates and add up to the ledger."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

from handlers.cost_aggregator import handler
from modelyard.cli import main
from modelyard.local.stack import LocalStack
from tests.integration.test_aggregation import sqs_batch, usage_event


def seed_spend(tenant: str) -> list:
    events = [
        usage_event(tenant, i, model)
        for i, model in enumerate(["deepseek-v4-flash", "qwen3-32b", "deepseek-v4-flash", "gpt-4o"])
    ]
    handler(sqs_batch(events), None)
    return events


def test_spend_table_and_chart_for_a_tenant(stack: LocalStack, capsys, tmp_path: Path):
    tenant = f"spend-{uuid.uuid4().hex[:6]}"
    events = seed_spend(tenant)
    chart = tmp_path / "spend.png"
    code = main(
        [
            "spend",
            "--tenant",
            tenant,
            "--by",
            "day,model",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-30",
            "--plot",
            str(chart),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "| 2026-11-24 | deepseek-v4-flash | 2 |" in out
    total = sum((e.cost_usd for e in events), Decimal(0))
    assert f"total: ${total.normalize():f}" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["spend", "--tenant", tenant, "--by", "month", "--since", "2026-11-01"]) == 0
    monthly = capsys.readouterr().out
    assert f"| 2026-11 | {len(events)} |" in monthly


def test_savings_compares_routed_spend_with_one_reference_model(stack: LocalStack, capsys):
    tenant = f"save-{uuid.uuid4().hex[:6]}"
    events = seed_spend(tenant)
    assert (
        main(
            [
                "cost",
                "savings",
                "--tenant",
                tenant,
                "--reference",
                "gpt-4o",
                "--since",
                "2026-11-24",
                "--until",
                "2026-11-24",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    reference = sum(
        (Decimal(e.input_tokens) * Decimal("2.50") + Decimal(e.output_tokens) * Decimal("10"))
        / 10**6
        for e in events
    )
    routed = sum((e.cost_usd for e in events), Decimal(0))
    assert f"all on gpt-4o: ${reference.normalize():f}" in out
    assert f"saved: ${(reference - routed).normalize():f}" in out


def test_bad_grouping_is_one_clear_line(stack: LocalStack, capsys):
    assert main(["spend", "--by", "weather"]) == 2
    assert capsys.readouterr().err.strip() == (
        "modelyard: --by takes day, month, model or key, or a comma-separated mix"
    )


def test_a_new_price_version_applies_from_its_date_and_never_reprices_the_past(
    stack: LocalStack, capsys
):
    from modelyard import aws
    from modelyard.settings import get_settings
    from modelyard.store.config import ConfigRepository

    assert (
        main(
            [
                "prices",
                "set",
                "--model",
                "yi-lightning",
                "--input",
                "0.20",
                "--output",
                "0.20",
                "--effective-from",
                "2099-01-01",
            ]
        )
        == 0
    )
    assert "yi-lightning@2099-01-01" in capsys.readouterr().out
    catalog = ConfigRepository(get_settings().config_table, aws.client("dynamodb")).catalog()
    assert catalog.price("yi-lightning", "2026-12-31").input == Decimal("0.14")
    assert catalog.price("yi-lightning", "2099-01-02").input == Decimal("0.20")
    assert main(["prices", "list", "--model", "yi-lightning"]) == 0
    listed = capsys.readouterr().out
    assert "| yi-lightning | 2026-01-01 | 0.14 |" in listed
    assert "| yi-lightning | 2099-01-01 | 0.20 |" in listed
    assert (
        main(
            [
                "prices",
                "set",
                "--model",
                "nope",
                "--input",
                "1",
                "--output",
                "1",
                "--effective-from",
                "2099-01-01",
            ]
        )
        == 2
    )


def test_spend_by_key_lists_each_key_of_the_tenant(stack: LocalStack, capsys):
    from modelyard.auth.admin import create_key

    tenant = f"keys-{uuid.uuid4().hex[:6]}"
    _, first = create_key(stack.config, stack.pepper, tenant)
    _, second = create_key(stack.config, stack.pepper, tenant)
    events = [usage_event(tenant, i) for i in range(3)]
    for event, key in zip(events, [first, first, second], strict=True):
        event.key_id = key.key_id
    handler(sqs_batch(events), None)
    assert (
        main(
            [
                "spend",
                "--tenant",
                tenant,
                "--by",
                "key",
                "--since",
                "2026-11-24",
                "--until",
                "2026-11-24",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"| {first.key_id} | 2 |" in out and f"| {second.key_id} | 1 |" in out
    assert main(["spend", "--by", "key"]) == 2
    assert "needs --tenant" in capsys.readouterr().err
