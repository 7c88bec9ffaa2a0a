"""Prices and the exact cost of a request.

Prices are USD per million tokens, which is the same number as micro-dollars per token, so a
cost is an exact `Decimal` (tokens x price / 10^6) with no rounding anywhere. DynamoDB stores
it as a Number (38 significant digits) and its ADD keeps aggregates exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Price:
    """One model's price list, valid from `effective_from` (ISO date) until the next version."""

    model: str
    input: Decimal
    output: Decimal
    effective_from: str
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None

    @property
    def version(self) -> str:
        return f"{self.model}@{self.effective_from}"


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Usage normalised across providers.

    `input_tokens` counts every prompt token, including cached reads and cache writes (OpenAI's
    convention); `cached_tokens` and `cache_write_tokens` say how many of them are billed at the
    cache rates. `reasoning_tokens` are part of `output_tokens`.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def cost_usd(usage: TokenUsage, price: Price) -> Decimal:
    """Exact cost of `usage` at `price`."""
    cached = usage.cached_tokens if price.cached_input is not None else 0
    written = usage.cache_write_tokens if price.cache_write is not None else 0
    plain_input = max(usage.input_tokens - cached - written, 0)
    reasoning = usage.reasoning_tokens if price.reasoning is not None else 0
    plain_output = max(usage.output_tokens - reasoning, 0)
    micros = plain_input * price.input + plain_output * price.output
    if cached:
        micros += cached * (price.cached_input or 0)
    if written:
        micros += written * (price.cache_write or 0)
    if reasoning:
        micros += reasoning * (price.reasoning or 0)
    return normalize(micros / MILLION)


def normalize(amount: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (for headers and JSON)."""
    if amount == 0:
        return Decimal(0)
    normal = amount.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


def today() -> str:
    """Today's date (UTC) as ISO text: the day whose price versions are in force."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


def format_usd(amount: Decimal) -> str:
    return format(normalize(amount), "f")
