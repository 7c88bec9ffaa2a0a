"""Routing policies: how much quality, cost and speed weigh in choosing a model."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from modelyard.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    quality: float
    cost: float
    speed: float
    #: lowest acceptable quality score (0..10) for the task
    min_quality: float = 0.0
    max_cost_usd: Decimal | None = None
    providers: tuple[str, ...] = ()


POLICIES: dict[str, Policy] = {
    "balanced": Policy("balanced", quality=0.5, cost=0.3, speed=0.2, min_quality=8.0),
    "cost": Policy("cost", quality=0.15, cost=0.75, speed=0.1, min_quality=8.0),
    "quality": Policy("quality", quality=0.94, cost=0.03, speed=0.03),
    "speed": Policy("speed", quality=0.2, cost=0.1, speed=0.7, min_quality=8.0),
}

#: model names that ask the router to choose, and the policy each implies
AUTO_MODELS = {
    "auto": "balanced",
    "auto:balanced": "balanced",
    "auto:cost": "cost",
    "auto:quality": "quality",
    "auto:speed": "speed",
}


def policy_name(value: str) -> str:
    name = value.removeprefix("auto:").strip().lower()
    if name == "auto":
        name = "balanced"
    if name not in POLICIES:
        raise InvalidRequest(
            f"unknown routing policy {value!r}; use one of {', '.join(sorted(POLICIES))}",
            param="modelyard.policy",
        )
    return name


def resolve_policy(
    base: str,
    *,
    weights: dict[str, float] | None = None,
    min_quality: float | None = None,
    max_cost_usd: Decimal | None = None,
    providers: tuple[str, ...] = (),
) -> Policy:
    """The named policy with the request's explicit weights and limits laid over it."""
    policy = POLICIES[policy_name(base)]
    w = weights or {}
    quality = float(w.get("quality", policy.quality))
    cost = float(w.get("cost", policy.cost))
    speed = float(w.get("speed", policy.speed))
    total = quality + cost + speed
    if min(quality, cost, speed) < 0 or total <= 0:
        raise InvalidRequest(
            "routing weights must be non-negative and not all zero", param="modelyard.weights"
        )
    return Policy(
        name=policy.name if not w else f"{policy.name}+weights",
        quality=quality / total,
        cost=cost / total,
        speed=speed / total,
        min_quality=policy.min_quality if min_quality is None else float(min_quality),
        max_cost_usd=max_cost_usd,
        providers=providers,
    )
