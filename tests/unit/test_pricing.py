from decimal import Decimal

from modelyard.cli import _offline_catalog
from modelyard.pricing.prices import Price, TokenUsage, cost_usd, format_usd
from modelyard.pricing.projection import project

GPT4O = Price(
    "gpt-4o", Decimal("2.50"), Decimal("10.00"), "2026-01-01", cached_input=Decimal("1.25")
)


def test_cost_is_exact_decimal():
    cost = cost_usd(TokenUsage(input_tokens=1234, output_tokens=567), GPT4O)
    assert cost == Decimal("0.008755")
    assert isinstance(cost, Decimal)


def test_cached_input_tokens_are_billed_at_the_cache_rate():
    usage = TokenUsage(input_tokens=1000, output_tokens=0, cached_tokens=400)
    assert cost_usd(usage, GPT4O) == (600 * Decimal("2.5") + 400 * Decimal("1.25")) / 10**6


def test_cached_tokens_without_a_cache_price_are_billed_as_input():
    price = Price("m", Decimal("1"), Decimal("2"), "2026-01-01")
    assert cost_usd(TokenUsage(1000, 0, cached_tokens=1000), price) == Decimal("0.001")


def test_format_usd_never_uses_exponent_notation():
    assert format_usd(Decimal("0.00000728")) == "0.00000728"
    assert format_usd(Decimal("1E+2")) == "100"
    assert format_usd(Decimal(0)) == "0"


def test_projection_reproduces_the_brief_rows():
    rows = {r["model"]: r for r in project(_offline_catalog(), 100_000, 5_000, 2_500)}
    assert rows["deepseek-v4-flash"]["monthly"] == Decimal(140)
    assert rows["kimi-k2.5"]["monthly"] == Decimal(500)
    assert rows["deepseek-v4-flash"]["annual"] == Decimal(1680)
    # The brief's Qwen3-32B and GPT-4o rows do not follow from their prices at this profile.
    assert rows["qwen3-32b"]["monthly"] == Decimal("137.5")
    assert rows["gpt-4o"]["monthly"] == Decimal(3750)


def test_price_in_force_is_chosen_by_date():
    catalog = _offline_catalog()
    assert catalog.price("gpt-4o", "2025-12-31") is None
    assert catalog.price("gpt-4o", "2026-06-01").input == Decimal("2.50")


def test_messages_usage_reports_cache_writes_apart_from_plain_input():
    from modelyard.providers.anthropic import anthropic_usage
    from modelyard.providers.base import openai_usage

    usage = TokenUsage(input_tokens=100, output_tokens=5, cached_tokens=30, cache_write_tokens=40)
    assert anthropic_usage(openai_usage(usage)) == {
        "input_tokens": 30,
        "output_tokens": 5,
        "cache_creation_input_tokens": 40,
        "cache_read_input_tokens": 30,
    }
