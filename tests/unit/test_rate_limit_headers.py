"""OpenAI's `x-ratelimit-*` headers from a rate ticket: true to the limiter's window."""

from __future__ import annotations

import pytest

from modelyard.auth.ratelimits import RateTicket, duration, rate_limit_headers
from modelyard.store.ratelimits import WindowCount


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.02, "20ms"),
        (0, "0ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (59.9994, "59.999s"),
        (360, "6m0s"),
        (61.25, "1m1.25s"),
    ],
)
def test_durations_are_written_as_openai_writes_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_headers_count_down_from_the_keys_limits_to_the_windows_end() -> None:
    ticket = RateTicket("KEY#k", "MIN#x", 30, 10, 1000, WindowCount(3, 250), resets_at=1260.0)
    assert rate_limit_headers(ticket, now=1218.5) == {
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "7",
        "x-ratelimit-reset-requests": "41.5s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "750",
        "x-ratelimit-reset-tokens": "41.5s",
    }


def test_only_the_limits_a_key_has_are_reported_and_never_below_zero() -> None:
    ticket = RateTicket("KEY#k", "MIN#x", 30, None, 100, WindowCount(9, 130), resets_at=60.0)
    headers = rate_limit_headers(ticket, now=59.98)
    assert headers == {
        "x-ratelimit-limit-tokens": "100",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "20ms",
    }
    assert rate_limit_headers(None) == {}
