"""Retry policy with Step Functions' own semantics.

The same object drives the in-process executor for interactive requests and renders into the
state machine's `Retry` fields for durable jobs, so both paths retry alike.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

ALL_ERRORS = "States.ALL"


@dataclass(frozen=True, slots=True)
class Retrier:
    error_equals: tuple[str, ...]
    interval_seconds: float = 0.25
    max_attempts: int = 2
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = 4.0
    jitter_strategy: Literal["FULL", "NONE"] = "FULL"

    def matches(self, error: str) -> bool:
        return error in self.error_equals or ALL_ERRORS in self.error_equals

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds before retry `retry_number` (1-based), as Step Functions computes it."""
        base = self.interval_seconds * self.backoff_rate ** (retry_number - 1)
        if self.max_delay_seconds is not None:
            base = min(base, self.max_delay_seconds)
        if self.jitter_strategy == "FULL":
            return (rng or random).uniform(0, base)
        return base

    def to_asl(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ErrorEquals": list(self.error_equals),
            "IntervalSeconds": max(1, round(self.interval_seconds)),
            "MaxAttempts": self.max_attempts,
            "BackoffRate": self.backoff_rate,
            "JitterStrategy": self.jitter_strategy,
        }
        if self.max_delay_seconds is not None:
            out["MaxDelaySeconds"] = max(1, round(self.max_delay_seconds))
        return out


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retriers: tuple[Retrier, ...]

    def retrier_for(self, error: str) -> Retrier | None:
        """The first retrier whose ErrorEquals names `error` (Step Functions' order)."""
        for retrier in self.retriers:
            if retrier.matches(error):
                return retrier
        return None

    def to_asl(self) -> list[dict[str, Any]]:
        return [r.to_asl() for r in self.retriers]

    @classmethod
    def from_config(cls, retriers: list[dict[str, Any]]) -> RetryPolicy:
        """A policy from ConfigTable / seed JSON: Step Functions' Retry fields, snake_case."""
        parsed = []
        for entry in retriers:
            jitter = str(entry.get("jitter_strategy", "FULL"))
            if jitter not in ("FULL", "NONE"):
                raise ValueError(f"jitter_strategy must be FULL or NONE, not {jitter!r}")
            delay = entry.get("max_delay_seconds")
            parsed.append(
                Retrier(
                    error_equals=tuple(str(e) for e in entry["error_equals"]),
                    interval_seconds=float(entry.get("interval_seconds", 0.25)),
                    max_attempts=int(entry.get("max_attempts", 2)),
                    backoff_rate=float(entry.get("backoff_rate", 2.0)),
                    max_delay_seconds=None if delay is None else float(delay),
                    jitter_strategy="FULL" if jitter == "FULL" else "NONE",
                )
            )
        return cls(retriers=tuple(parsed))


DEFAULT_RETRY_POLICY = RetryPolicy(
    retriers=(
        Retrier(
            ("rate_limited", "overloaded"),
            interval_seconds=0.5,
            max_attempts=2,
            max_delay_seconds=4.0,
        ),
        # one quick retry (up to 50 ms of jitter): a fast 500 is often a blip, and waiting
        # longer costs more than falling back to the next candidate
        Retrier(
            ("server_error", "connection_error", "malformed_response"),
            interval_seconds=0.05,
            max_attempts=1,
        ),
        Retrier(("timeout",), interval_seconds=0.2, max_attempts=1),
    )
)
