"""`MODELYARD_SIM_FAULTS`: which simulated upstream fails, how, and how often.

Format: `model=kind:probability,...`, e.g. `deepseek-v4-flash=429:1.0,qwen3-32b=timeout:0.5`.
Kinds: an HTTP status, `timeout`, `reset`, `malformed`, `midstream`. A model may be named by
its catalog id or its upstream name; `*` matches every model.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

KINDS = {"timeout", "reset", "malformed", "midstream"}


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str  # "429", "500", ..., or one of KINDS
    probability: float

    @property
    def status(self) -> int | None:
        return int(self.kind) if self.kind.isdigit() else None


def parse_faults(spec: str | None) -> dict[str, list[Fault]]:
    faults: dict[str, list[Fault]] = {}
    for entry in (spec or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        model, _, rest = entry.partition("=")
        kind, _, probability = rest.partition(":")
        kind = kind.strip().lower()
        if not model or not (kind.isdigit() or kind in KINDS):
            raise ValueError(f"bad MODELYARD_SIM_FAULTS entry {entry!r}: want model=kind:prob")
        p = float(probability or "1")
        if not 0 <= p <= 1:
            raise ValueError(f"bad probability in {entry!r}")
        faults.setdefault(model.strip().lower(), []).append(Fault(kind, p))
    return faults


def pick_fault(
    faults: dict[str, list[Fault]], names: tuple[str, ...], rng: random.Random
) -> Fault | None:
    """The fault this call suffers, if any (each configured fault rolls independently)."""
    for name in (*names, "*"):
        for fault in faults.get(name.lower(), ()):
            if rng.random() < fault.probability:
                return fault
    return None
