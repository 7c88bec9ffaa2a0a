"""A tenant's settings: budgets binding all its keys, and whether its prompts may be logged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard.auth.budgets import Budget


@dataclass(frozen=True, slots=True)
class TenantSettings:
    budget: Budget | None = None
    #: the tenant's opt-in to prompt and completion text in the logs (off unless set)
    log_prompts: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> TenantSettings:
        return cls(budget=Budget.from_item(item), log_prompts=bool(item.get("log_prompts", False)))

    def as_item(self) -> dict[str, Any]:
        return {**(self.budget.as_item() if self.budget else {}), "log_prompts": self.log_prompts}
