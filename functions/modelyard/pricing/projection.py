"""Cost projections for a traffic profile: the product brief's table, reproducible."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from modelyard.catalog import Catalog
from modelyard.pricing.prices import TokenUsage, cost_usd, format_usd, today


def project(
    catalog: Catalog, requests: int, input_tokens: int, output_tokens: int, on: str | None = None
) -> list[dict[str, Any]]:
    """Monthly and annual cost per chat model for `requests` a month of the given shape."""
    if min(requests, input_tokens, output_tokens) < 0:
        raise ValueError("requests and token counts must not be negative")
    rows = []
    for model in catalog.models.values():
        price = catalog.price(model.id, on or today())
        if price is None or model.kind != "chat":
            continue
        per_request = cost_usd(TokenUsage(input_tokens, output_tokens), price)
        monthly = per_request * requests
        rows.append(
            {
                "model": model.id,
                "input_per_m": price.input,
                "output_per_m": price.output,
                "per_request": per_request,
                "monthly": monthly,
                "annual": monthly * 12,
            }
        )
    return sorted(rows, key=lambda r: r["monthly"])


def _money(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.01')):,}"


def render_table(
    rows: list[dict[str, Any]], requests: int, input_tokens: int, output_tokens: int
) -> str:
    lines = [
        f"Traffic profile: {requests:,} requests a month, {input_tokens:,} input + "
        f"{output_tokens:,} output tokens each",
        "",
        "| Model | Input $/M | Output $/M | Per request | Monthly | Annual |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | ${format_usd(r['input_per_m'])} | ${format_usd(r['output_per_m'])} "
            f"| ${format_usd(r['per_request'])} | {_money(r['monthly'])} | {_money(r['annual'])} |"
        )
    return "\n".join(lines)
