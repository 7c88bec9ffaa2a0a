"""Budgets per tenant and per key, daily and monthly, enforced at admission.

A hard budget reserves the request's estimated maximum cost before any upstream is called and
refuses the request (429 `budget_exceeded`) when the reservation would pass the limit; the real
cost replaces the reservation when the request ends. A soft budget only tracks, and warns in a
response header once spend passes it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from modelyard.errors import RateLimited
from modelyard.store.budgets import BudgetStore, Reservation

#: how long a reservation holds if its request never settles (the router's longest life)
HOLD_SECONDS = 960
WINDOW_RETENTION = timedelta(days=40)


@dataclass(frozen=True, slots=True)
class Budget:
    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None
    hard: bool = True

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Budget | None:
        daily, monthly = item.get("daily_budget_usd"), item.get("monthly_budget_usd")
        if daily is None and monthly is None:
            return None
        return cls(
            daily_usd=None if daily is None else Decimal(str(daily)),
            monthly_usd=None if monthly is None else Decimal(str(monthly)),
            hard=item.get("budget_mode", "hard") != "soft",
        )

    def as_item(self) -> dict[str, Any]:
        return {
            "daily_budget_usd": self.daily_usd,
            "monthly_budget_usd": self.monthly_usd,
            "budget_mode": "hard" if self.hard else "soft",
        }


@dataclass
class Admission:
    request_id: str
    reservations: list[Reservation] = field(default_factory=list)
    #: soft budgets passed, for the `x-modelyard-budget-warning` header
    warnings: list[str] = field(default_factory=list)
    #: (scope, committed after this reservation, limit) per window, for the budget metric
    used: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)


def _windows(now: datetime, budget: Budget) -> list[tuple[str, Decimal, datetime]]:
    """(window key, limit, window end) for each limit the budget sets."""
    out = []
    if budget.daily_usd is not None:
        end = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
        out.append((f"DAY#{now:%Y-%m-%d}", budget.daily_usd, end))
    if budget.monthly_usd is not None:
        days = calendar.monthrange(now.year, now.month)[1]
        end = datetime(now.year, now.month, 1, tzinfo=UTC) + timedelta(days=days)
        out.append((f"MONTH#{now:%Y-%m}", budget.monthly_usd, end))
    return out


class BudgetGuard:
    def __init__(self, store: BudgetStore, hold_seconds: int = HOLD_SECONDS) -> None:
        self.store = store
        self.hold_seconds = hold_seconds

    def admit(
        self,
        request_id: str,
        scopes: list[tuple[str, Budget]],
        estimate: Decimal | None,
        now: datetime,
        hold_seconds: int | None = None,
    ) -> Admission:
        """Reserve `estimate` in every budget window of every scope, or refuse with 429.
        `hold_seconds`: how long the reservations outlive a request that never settles them
        (default: the router's longest request)."""
        hold = hold_seconds or self.hold_seconds
        admission = Admission(request_id)
        for scope, budget in scopes:
            for window, limit, end in _windows(now, budget):
                if budget.hard and estimate is None:
                    self.settle(admission, Decimal(0))
                    raise RateLimited(
                        f"{scope.split('#')[0].lower()} has a hard budget and this request's "
                        "cost cannot be estimated",
                        code="budget_exceeded",
                    )
                amount = estimate or Decimal(0)
                committed = self._reserve(
                    scope, window, request_id, amount, limit if budget.hard else None, end, hold
                )
                if committed is None:
                    self.settle(admission, Decimal(0))
                    retry_after = max(1, int((end - now).total_seconds()))
                    raise RateLimited(
                        f"{scope.split('#')[0].lower()} budget of ${limit} for "
                        f"{window.split('#')[1]} is spent (this request could cost up to "
                        f"${amount})",
                        code="budget_exceeded",
                        headers={"retry-after": str(retry_after)},
                    )
                admission.reservations.append(Reservation(scope, window, amount))
                admission.used.append((scope, committed, limit))
                if not budget.hard and committed > limit:
                    admission.warnings.append(f"{scope} {window} over ${limit}")
        return admission

    def _reserve(
        self,
        scope: str,
        window: str,
        request_id: str,
        amount: Decimal,
        limit: Decimal | None,
        end: datetime,
        hold_seconds: int,
    ) -> Decimal | None:
        expires = int((end + WINDOW_RETENTION).timestamp())
        args = (scope, window, request_id, amount, limit, hold_seconds, expires)
        committed = self.store.reserve(*args)
        if committed is None and self.store.release_expired(scope, window):
            committed = self.store.reserve(*args)  # dead requests' holds were in the way
        return committed

    def settle(self, admission: Admission, actual: Decimal) -> None:
        """Replace every reservation of the request by its real cost (zero if it failed)."""
        for reservation in admission.reservations:
            self.store.settle(reservation, admission.request_id, actual)
        admission.reservations.clear()
