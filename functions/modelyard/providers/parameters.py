"""Which request parameters each wire format can honour, and how reasoning effort becomes a
thinking budget; the facts are data (parameters.json), read once.

The planner makes an unhonoured parameter a routing constraint (a candidate that cannot honour
it is skipped, and a request no candidate can honour is a 400 naming it); the adapters
translate the ones they honour. Nothing a client asks for is dropped without a word.

`/v1/messages` features that OpenAI's body has no field for travel in `EXTRAS`, a
gateway-private object that the OpenAI-compatible adapter never forwards: `thinking` exactly
as the client sent it (the Anthropic adapter sends it back unchanged, Gemini takes its budget)
and `server_tools` (Anthropic's `web_search_20250305` and the like). A Responses request's
hosted tools (`web_search`, `file_search`, ...) are honoured only where it goes upstream as
sent (providers.native): the `openai-responses` dialect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.catalog import Capabilities, Provider

#: the gateway-private body field for what only the Messages API can say
EXTRAS = "modelyard_anthropic"

_DATA = json.loads((Path(__file__).parent / "parameters.json").read_text())
#: thinking tokens per `reasoning_effort` value (see parameters.json for the source)
REASONING_BUDGETS: dict[str, int] = dict(_DATA["reasoning_budgets"])


@dataclass(frozen=True, slots=True)
class ParameterUse:
    """A parameter the request uses that only some wire formats honour."""

    param: str
    label: str
    wires: frozenset[str]
    #: what the request set (named in errors: the server tools' types)
    value: Any = None
    #: a model capability it also needs (`reasoning`: not every model of a wire thinks)
    capability: str | None = None

    def describe(self) -> str:
        if self.param == "tools" and isinstance(self.value, list):
            names = ", ".join(str(t.get("type") or t.get("name")) for t in self.value)
            return f"{self.label} ({names})"
        return self.label


def _lookup(body: Mapping[str, Any], field: str) -> Any:
    value: Any = body
    for part in field.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _used(value: Any, when: str) -> bool:
    if when == "above_one":
        return isinstance(value, int) and not isinstance(value, bool) and value > 1
    return bool(value)


def parameters_used(body: Mapping[str, Any]) -> tuple[ParameterUse, ...]:
    """The parameters of `body` that some wire formats cannot honour, in the data's order."""
    uses = []
    for entry in _DATA["parameters"]:
        value = _lookup(body, entry["field"])
        if _used(value, entry["when"]):
            wires = frozenset(entry["wires"])
            capability = entry.get("capability")
            uses.append(ParameterUse(entry["param"], entry["label"], wires, value, capability))
    return tuple(uses)


def unhonoured(
    uses: Sequence[ParameterUse], provider: Provider, capabilities: Capabilities
) -> ParameterUse | None:
    """The first parameter in use that a model of `provider` with `capabilities` cannot
    honour, if any: by its adapter's wire format, or by a request format it speaks natively
    (its `dialects`), and by the model capability the parameter needs."""
    speaks = {provider.wire, *provider.dialects}

    def honoured(use: ParameterUse) -> bool:
        capable = use.capability is None or getattr(capabilities, use.capability, False)
        return capable and not use.wires.isdisjoint(speaks)

    return next((use for use in uses if not honoured(use)), None)


def extras(body: Mapping[str, Any]) -> dict[str, Any]:
    value = body.get(EXTRAS)
    return value if isinstance(value, dict) else {}


def thinking_budget(body: Mapping[str, Any]) -> int | None:
    """The thinking tokens the request asks for: an exact `thinking` budget (from
    `/v1/messages`), else its `reasoning_effort` mapped; 0 is thinking off, None not asked."""
    thinking = extras(body).get("thinking")
    if isinstance(thinking, dict):
        if thinking.get("type") == "disabled":
            return 0
        if isinstance(thinking.get("budget_tokens"), int):
            return int(thinking["budget_tokens"])
    effort = body.get("reasoning_effort")
    if isinstance(effort, str):
        return REASONING_BUDGETS.get(effort.lower())
    return None


def effort_for_budget(budget: int) -> str:
    """The `reasoning_effort` nearest a thinking budget (for wire formats that take effort)."""
    levels = sorted(
        ((tokens, name) for name, tokens in REASONING_BUDGETS.items() if name != "minimal"),
    )
    return min(levels, key=lambda level: abs(level[0] - budget))[1]
