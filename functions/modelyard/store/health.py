"""What routing learns from traffic: the aggregator's per-hour attempt, error and latency
counters per model, and users' feedback per task and model.

The router reads both once a minute (one Query each) so that speed, reliability and quality
in routing follow what users see, not only the seed's figures.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from modelyard.catalog import Feedback, ModelHealth
from modelyard.store.cache import TtlCache
from modelyard.store.dynamo import as_int, query_all
from modelyard.usage.aggregate import FEEDBACK_PK, HEALTH_PK

#: fewer attempts than this in the window and the seed figures stand
MIN_SAMPLES = 5


@dataclass(frozen=True, slots=True)
class Observations:
    health: dict[str, ModelHealth]
    feedback: dict[tuple[str, str], Feedback]


class HealthRepository:
    def __init__(self, table: str, client: Any, *, hours: int = 3, cache_seconds: float = 60):
        self.table = table
        self.client = client
        self.hours = hours
        self._cache: TtlCache[Observations] = TtlCache(cache_seconds, cache_seconds)

    def observations(self) -> Observations:
        return self._cache.get_or_load(HEALTH_PK, self._load) or Observations({}, {})

    async def observations_async(self) -> Observations:
        fresh, value = self._cache.peek(HEALTH_PK)
        if fresh and value is not None:
            return value
        return await asyncio.to_thread(self.observations)

    def recent(self) -> dict[str, ModelHealth]:
        return self.observations().health

    def _load(self) -> Observations:
        return Observations(self._load_health(), self._load_feedback())

    def _load_feedback(self) -> dict[tuple[str, str], Feedback]:
        feedback = {}
        for item in query_all(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": FEEDBACK_PK}},
        ):
            task, _, model = str(item["sk"]).partition("#")
            feedback[(task, model)] = Feedback(as_int(item.get("count")), item.get("score_sum", 0))
        return feedback

    def _load_health(self) -> dict[str, ModelHealth]:
        since = (datetime.now(UTC) - timedelta(hours=self.hours)).strftime("%Y-%m-%dT%H")
        totals: dict[str, list[int]] = {}
        for item in query_all(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk >= :since",
            ExpressionAttributeValues={":pk": {"S": HEALTH_PK}, ":since": {"S": since}},
        ):
            model = str(item["sk"]).split("#", 1)[1]
            entry = totals.setdefault(model, [0, 0, 0, 0])
            for i, name in enumerate(("attempts", "errors", "ttft_ms_sum", "ttft_count")):
                entry[i] += as_int(item.get(name))
        return {
            model: ModelHealth(attempts, errors, ttft_sum / ttft_n if ttft_n else None)
            for model, (attempts, errors, ttft_sum, ttft_n) in totals.items()
            if attempts >= MIN_SAMPLES
        }
