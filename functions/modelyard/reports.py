"""Spend reports from the aggregates: tables, a chart, and what routing saved.

Reads the day counters the aggregator keeps (`usage.aggregate`): per tenant its day items'
totals per model (`aggregate.breakdown`), across tenants `MODEL#<m> / DAY#<d>`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from modelyard.catalog import Catalog
from modelyard.pricing.prices import TokenUsage, cost_usd, format_usd
from modelyard.store.dynamo import as_int, query_all
from modelyard.usage.aggregate import breakdown


@dataclass(frozen=True, slots=True)
class SpendRow:
    day: str
    model: str
    cost: Decimal
    requests: int
    input_tokens: int
    output_tokens: int
    #: set on rows read from a key's counters (which are not split by model)
    key: str = ""


def spend_rows(
    client: Any, table: str, catalog: Catalog, tenant: str | None, since: str, until: str
) -> list[SpendRow]:
    """Spend per day and model for one tenant, or across tenants when `tenant` is None."""
    if tenant is not None:
        partitions = [f"TENANT#{tenant}"]
    else:
        partitions = [f"MODEL#{model}" for model in sorted(catalog.models)]
    rows = []
    for pk in partitions:
        for item in query_all(
            client,
            TableName=table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": pk},
                ":low": {"S": f"DAY#{since}"},
                ":high": {"S": f"DAY#{until}~"},
            },
        ):
            day = str(item["sk"]).split("#")[1]
            if tenant is None:
                rows.append(_row(day, pk.removeprefix("MODEL#"), item))
                continue
            for (kind, model), counters in breakdown(item).items():
                if kind == "MODEL":
                    rows.append(_row(day, model, counters))
    return sorted(rows, key=lambda r: (r.day, r.model))


def _row(day: str, model: str, counters: dict[str, Any], key: str = "") -> SpendRow:
    return SpendRow(
        day=day,
        model=model,
        cost=Decimal(counters.get("cost_usd", 0)),
        requests=as_int(counters.get("requests")),
        input_tokens=as_int(counters.get("input_tokens")),
        output_tokens=as_int(counters.get("output_tokens")),
        key=key,
    )


GROUPINGS = {
    "day": lambda row: row.day,
    "month": lambda row: row.day[:7],
    "model": lambda row: row.model,
    "key": lambda row: row.key,
}


def key_rows(
    client: Any, table: str, key_ids: Iterable[str], since: str, until: str
) -> list[SpendRow]:
    """Spend per day for each key (`KEY#<id> / DAY#<d>`)."""
    rows = []
    for key_id in key_ids:
        for item in query_all(
            client,
            TableName=table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": f"KEY#{key_id}"},
                ":low": {"S": f"DAY#{since}"},
                ":high": {"S": f"DAY#{until}~"},
            },
        ):
            rows.append(_row(str(item["sk"]).split("#")[1], "", item, key=key_id))
    return sorted(rows, key=lambda r: (r.day, r.key))


def group(rows: Iterable[SpendRow], by: str) -> list[dict[str, Any]]:
    """Totals by any of `day`, `month` and `model` (e.g. `month,model`): a month is the sum
    of its day counters."""
    fields = [f.strip() for f in by.split(",") if f.strip()]
    if not fields or any(f not in GROUPINGS for f in fields):
        raise ValueError("--by takes day, month, model or key, or a comma-separated mix")
    if "key" in fields and "model" in fields:
        raise ValueError("spend by key is not split by model: use --by key or --by day,key")
    totals: dict[tuple[str, ...], list[Any]] = defaultdict(lambda: [Decimal(0), 0, 0])
    for row in rows:
        entry = totals[tuple(GROUPINGS[f](row) for f in fields)]
        entry[0] += row.cost
        entry[1] += row.requests
        entry[2] += row.input_tokens + row.output_tokens
    return [
        {**dict(zip(fields, key, strict=True)), "cost_usd": cost, "requests": n, "tokens": t}
        for key, (cost, n, t) in sorted(totals.items())
    ]


def render(grouped: list[dict[str, Any]]) -> str:
    if not grouped:
        return "no spend recorded in that period"
    columns = [c for c in grouped[0] if c not in ("cost_usd", "requests", "tokens")]
    header = [*columns, "requests", "tokens", "cost (USD)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in grouped:
        values = [str(row[c]) for c in columns]
        values += [f"{row['requests']:,}", f"{row['tokens']:,}", format_usd(row["cost_usd"])]
        lines.append("| " + " | ".join(values) + " |")
    total = sum((r["cost_usd"] for r in grouped), Decimal(0))
    lines.append(f"\ntotal: ${format_usd(total)}")
    return "\n".join(lines)


def plot(rows: list[SpendRow], path: Path, title: str) -> None:
    """A stacked bar chart of spend by day and model, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = sorted({r.day for r in rows})
    models = sorted({r.model for r in rows})
    spend = {(r.day, r.model): float(r.cost) for r in rows}
    figure, axes = plt.subplots(figsize=(max(6, len(days) * 0.6 + 3), 4))
    bottom = [0.0] * len(days)
    for model in models:
        values = [spend.get((day, model), 0.0) for day in days]
        axes.bar(days, values, bottom=bottom, label=model)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_ylabel("USD")
    axes.set_title(title)
    axes.legend(fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def savings(
    rows: Iterable[SpendRow], catalog: Catalog, reference: str, on: str
) -> list[dict[str, Any]]:
    """What each model's traffic cost against what the same tokens would cost on `reference`.

    Exact for the tokens counted; cached-token discounts are not re-applied to the reference.
    """
    price = catalog.price(reference, on)
    if price is None:
        raise ValueError(f"no price for reference model {reference!r}")
    out = []
    for row in group_tokens(rows):
        at_reference = cost_usd(TokenUsage(row["input_tokens"], row["output_tokens"]), price)
        out.append({**row, "at_reference": at_reference, "saved": at_reference - row["cost"]})
    return out


def group_tokens(rows: Iterable[SpendRow]) -> list[dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"cost": Decimal(0), "requests": 0, "input_tokens": 0, "output_tokens": 0}
    )
    for row in rows:
        entry = totals[row.model]
        entry["cost"] += row.cost
        entry["requests"] += row.requests
        entry["input_tokens"] += row.input_tokens
        entry["output_tokens"] += row.output_tokens
    return [{"model": model, **values} for model, values in sorted(totals.items())]


def render_savings(rows: list[dict[str, Any]], reference: str) -> str:
    lines = [
        f"| model | requests | cost (USD) | on {reference} (USD) | saved (USD) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['requests']:,} | {format_usd(row['cost'])} | "
            f"{format_usd(row['at_reference'])} | {format_usd(row['saved'])} |"
        )
    cost = sum((r["cost"] for r in rows), Decimal(0))
    reference_cost = sum((r["at_reference"] for r in rows), Decimal(0))
    share = f" ({(1 - cost / reference_cost) * 100:.1f}% less)" if reference_cost else ""
    lines.append(
        f"\nrouted: ${format_usd(cost)}   all on {reference}: ${format_usd(reference_cost)}"
        f"   saved: ${format_usd(reference_cost - cost)}{share}"
    )
    return "\n".join(lines)
