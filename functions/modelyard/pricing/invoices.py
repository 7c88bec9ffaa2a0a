"""What each upstream attempt will be invoiced by its provider, apart from what the tenant pays.

The tenant is charged for the answer it got: the served attempt's usage at its model's price
(`UsageEvent.cost_usd`, the counters' `cost_usd`, what budgets settle). The providers invoice
every attempt that ran, and the ledger prices each one (`AttemptRecord.cost_usd`, totalled in
`UsageEvent.provider_cost_usd` and the counters' `provider_cost_usd`), so hedging's and
retries' cost to the operator is on record:

- the served attempt: the request's own usage (exact, or estimated for a cut stream);
- a finished answer that was not served (a hedge's loser that completed): its exact usage;
- an attempt abandoned in flight (a hedge's loser, an attempt past its timeout): the
  provider bills the prompt it read and what it generated until it noticed, which the
  gateway cannot see: the request's input estimate plus the output the model's speed allows
  in the time it ran, marked `usage_estimated`;
- an upstream error answer (4xx, 5xx): providers do not bill these, so 0;
- a skipped candidate (open circuit, too small a window): no call, no price.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from modelyard.catalog import Model
from modelyard.pricing.prices import Price, TokenUsage, cost_usd
from modelyard.resilience.executor import Attempt
from modelyard.routing.planner import Candidate
from modelyard.usage.events import AttemptRecord

#: attempts the gateway abandoned while the provider was still working on them
ABANDONED = {("cancelled", "hedge_lost"), ("error", "timeout")}


def invoices(
    attempts: Sequence[Attempt],
    candidates: Sequence[Candidate],
    served: tuple[str, TokenUsage, bool] | None,
    input_estimate: int,
) -> list[AttemptRecord]:
    """Every attempt as the ledger records it, each priced (see the module).
    `served`: the serving model, its usage and whether that usage is estimated."""
    by_model = {c.model.id: c for c in candidates}
    served_index = _served_index(attempts, served[0]) if served is not None else None
    records = []
    for i, attempt in enumerate(attempts):
        candidate = by_model.get(attempt.model)
        if candidate is None or attempt.status == "skipped":
            records.append(AttemptRecord(**attempt.as_dict()))
            continue
        mine = served[1:] if served is not None and i == served_index else None
        records.append(invoice(attempt, mine, candidate.model, candidate.price, input_estimate))
    return records


def invoice(
    attempt: Attempt,
    served: tuple[TokenUsage, bool] | None,
    model: Model,
    price: Price | None,
    input_estimate: int,
) -> AttemptRecord:
    """One attempt that made a call, priced as its provider will invoice it (see the module);
    `served`: its usage and whether that is an estimate, when it is the attempt that answered.
    Without a price the tokens are recorded and the cost is left unknown."""
    usage, estimated = _usage(attempt, served, model, input_estimate)
    return AttemptRecord(
        **attempt.as_dict(),
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=cost_usd(usage, price) if price is not None else None,
        usage_estimated=estimated,
    )


def provider_cost(records: Sequence[AttemptRecord]) -> Decimal:
    return sum((r.cost_usd for r in records if r.cost_usd is not None), Decimal(0))


def _served_index(attempts: Sequence[Attempt], model: str) -> int | None:
    for i in range(len(attempts) - 1, -1, -1):
        if attempts[i].model == model and attempts[i].status == "ok":
            return i
    return None


def _usage(
    attempt: Attempt, served: tuple[TokenUsage, bool] | None, model: Model, input_estimate: int
) -> tuple[TokenUsage, bool]:
    """(what the provider bills this attempt for, whether that is an estimate)."""
    if served is not None:
        return served
    if attempt.usage is not None:
        return attempt.usage, False
    if (attempt.status, attempt.error_type) in ABANDONED:
        # the prompt, and what the model can have written in the time the attempt ran
        writing_ms = max(0, attempt.latency_ms - model.ttft_ms)
        output = min(writing_ms * model.tokens_per_second // 1000, model.max_output_tokens)
        return TokenUsage(input_estimate, output), True
    return TokenUsage(), False  # an error answer: not billed
