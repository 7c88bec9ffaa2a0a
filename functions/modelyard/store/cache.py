"""A small time-bounded cache for read-mostly configuration (keys, the catalog)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    """Remembers values for `ttl` seconds and misses (None) for `negative_ttl` seconds.

    Short negative caching keeps a flood of bad keys off DynamoDB while letting a key created
    a moment ago work within seconds; the positive age bounds how long a revoked key lingers.
    """

    def __init__(
        self,
        ttl: float,
        negative_ttl: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, V | None]] = {}

    def get_or_load(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = load()
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (now + (self.ttl if value is not None else self.negative_ttl), value)
        return value

    def invalidate(self, key: Hashable | None = None) -> None:
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)

    def peek(self, key: Hashable) -> tuple[bool, V | None]:
        """(True, value) when a fresh entry exists, without loading; (False, None) otherwise."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            return True, entry[1]
        return False, None
