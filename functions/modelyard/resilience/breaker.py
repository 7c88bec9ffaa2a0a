"""Per-model circuit breaker: an in-memory view, optionally shared through UsageTable.

Opens after `threshold` consecutive retryable failures, lets one trial request through after
`cool_down` seconds (half-open), and closes on its success. Times are wall-clock epoch seconds
so that an opening seen by one Lambda instance means the same moment to every other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _State:
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False


class CircuitBreaker:
    def __init__(
        self,
        threshold: int = 5,
        cool_down: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.threshold = threshold
        self.cool_down = cool_down
        self._clock = clock
        self._states: dict[str, _State] = {}
        #: called with (key, open until) when this instance opens a circuit, and with
        #: (key, None) when it closes one; the shared view publishes through these
        self.listeners: list[Callable[[str, float | None], None]] = []

    def allows(self, key: str) -> bool:
        state = self._states.get(key)
        if state is None or state.opened_at is None:
            return True
        if self._clock() - state.opened_at < self.cool_down:
            return False
        return not state.trial_in_flight  # half-open: one trial at a time

    def state(self, key: str) -> str:
        state = self._states.get(key)
        if state is None or state.opened_at is None:
            return "closed"
        return "open" if self._clock() - state.opened_at < self.cool_down else "half_open"

    def begin(self, key: str) -> None:
        state = self._states.get(key)
        if state is not None and state.opened_at is not None:
            state.trial_in_flight = True

    def release(self, key: str) -> None:
        """End a half-open trial without a verdict (cancelled, or refused as a bad request):
        the circuit stays half-open and the next request is the trial."""
        state = self._states.get(key)
        if state is not None:
            state.trial_in_flight = False

    def retry_after(self, key: str) -> float:
        """Seconds until an open circuit half-opens (0 when it is not open)."""
        state = self._states.get(key)
        if state is None or state.opened_at is None:
            return 0.0
        return max(0.0, state.opened_at + self.cool_down - self._clock())

    def reset(self) -> None:
        self._states.clear()

    def success(self, key: str) -> None:
        state = self._states.pop(key, None)
        if state is not None and state.opened_at is not None:
            self._notify(key, None)

    def failure(self, key: str) -> None:
        state = self._states.setdefault(key, _State())
        state.failures += 1
        state.trial_in_flight = False
        if state.failures >= self.threshold or state.opened_at is not None:
            state.opened_at = self._clock()
            self._notify(key, state.opened_at + self.cool_down)

    def adopt(self, key: str, open_until: float) -> None:
        """Take another instance's opening as ours, unless ours is already later."""
        state = self._states.setdefault(key, _State())
        opened_at = open_until - self.cool_down
        if state.opened_at is None or state.opened_at < opened_at:
            state.opened_at = opened_at
            state.trial_in_flight = False

    def _notify(self, key: str, open_until: float | None) -> None:
        for listener in self.listeners:
            listener(key, open_until)
