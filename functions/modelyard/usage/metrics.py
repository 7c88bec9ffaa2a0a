"""EMF metrics for recorded usage, through Powertools.

One blob per dimension set per batch: the service total, each model, each provider. Values
are summed over the batch in Decimal and converted to float only for CloudWatch (metrics are
for graphs and alarms; the ledger and counters are the money).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from modelyard.usage import metric_names as m
from modelyard.usage.events import UsageEvent


class BatchMetrics:
    def __init__(self) -> None:
        self._totals: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
            lambda: defaultdict(Decimal)
        )
        self._latency: dict[str, list[int]] = defaultdict(list)

    def add(self, event: UsageEvent) -> None:
        scopes = [
            ("", ""),
            (m.DIM_MODEL, event.model or "unknown"),
            (m.DIM_PROVIDER, event.provider or "unknown"),
            (m.DIM_TASK, event.task or "unknown"),
        ]
        for scope in scopes:
            totals = self._totals[scope]
            totals[m.COST_USD] += event.cost_usd
            totals[m.REQUESTS] += 1
            totals[m.INPUT_TOKENS] += event.input_tokens
            totals[m.OUTPUT_TOKENS] += event.output_tokens
            totals[m.FAILED_REQUESTS] += 1 if event.status == "failed" else 0
            totals[m.UPSTREAM_ERRORS] += sum(1 for a in event.attempts if a.status == "error")
            if event.cache in ("hit", "miss"):
                totals[m.CACHE_HITS] += 1 if event.cache == "hit" else 0
                totals[m.CACHE_MISSES] += 1 if event.cache == "miss" else 0
                totals[m.CACHE_SAVED_USD] += event.saved_usd
        # a hit's latency is the cache's, not the model's
        if event.model and event.status != "failed" and event.cache != "hit":
            self._latency[event.model].append(event.latency_ms)

    def flush(self) -> None:
        """One EMF blob per dimension set, printed to stdout for CloudWatch Logs."""
        from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

        units = {m.COST_USD: MetricUnit.NoUnit, m.CACHE_SAVED_USD: MetricUnit.NoUnit}
        for (dimension, value), totals in self._totals.items():
            blob = EphemeralMetrics(namespace=m.NAMESPACE, service=m.SERVICE)
            if dimension:
                blob.add_dimension(name=dimension, value=value)
            for name, amount in totals.items():
                blob.add_metric(
                    name=name, unit=units.get(name, MetricUnit.Count), value=float(amount)
                )
            if dimension == m.DIM_MODEL:
                for latency in self._latency.get(value, ()):
                    blob.add_metric(name=m.LATENCY_MS, unit=MetricUnit.Milliseconds, value=latency)
            blob.flush_metrics()
        self._totals.clear()
        self._latency.clear()


def emit_budget_use(used: list[tuple[str, Decimal, Decimal]]) -> None:
    """`BudgetUsedPercent` for each budget window a request touched: (scope, committed, limit).

    Emitted by the router at admission, so alarms see a budget filling up as it happens, not
    after the aggregation delay.
    """
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    for scope, committed, limit in used:
        if not limit:
            continue
        blob = EphemeralMetrics(namespace=m.NAMESPACE, service=m.SERVICE)
        blob.add_dimension(name=m.DIM_SCOPE, value=scope.replace("#", ":", 1).lower())
        blob.add_metric(
            name=m.BUDGET_USED_PERCENT,
            unit=MetricUnit.Percent,
            value=float(committed * 100 / limit),
        )
        blob.flush_metrics()
