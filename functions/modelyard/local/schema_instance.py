"""A deterministic JSON instance of a JSON Schema, for the SIMULATED upstream's structured
output and tool arguments: the same schema always gets the same instance, and it validates.

Covers what structured-output schemas use: objects (every property near the top, the required
ones deeper down, so recursive schemas end), arrays (at least `minItems`, distinct items under
`uniqueItems`), `enum`, `const`, `anyOf`/`oneOf` (the first branch that is not null), `allOf`
(merged), `$ref` into `$defs`/`definitions`, type lists and nullable types (OpenAPI's
`nullable` and Gemini's upper-case type names too), string lengths, common formats and simple
patterns, number bounds and `multipleOf`. Not a general generator: `not`, `if`/`then` and
`patternProperties` are ignored.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: below this depth every declared property is filled in; at or past it, only required ones
_FULL_DEPTH = 4
_MAX_DEPTH = 32
_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "simulated@example.com",
    "idn-email": "simulated@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/simulated",
    "iri": "https://example.com/simulated",
    "uri-reference": "https://example.com/simulated",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_PATTERN_CANDIDATES = ("simulated", "a", "A", "0", "a1", "sim_1", "SIM-1", "abc", "123")


def schema_instance(schema: Any) -> Any:
    """A value valid against `schema` (a dict, or `True` for anything)."""
    return _Generator(schema if isinstance(schema, dict) else {}).value(schema, 0, 0)


class _Generator:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def value(self, schema: Any, depth: int, variant: int) -> Any:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None if depth > _MAX_DEPTH else "simulated"
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][variant % len(schema["enum"])]
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                branches = [self._resolve(b) for b in schema[key] if isinstance(b, dict)]
                useful = [b for b in branches if _types(b) != ["null"]] or branches
                return self.value({**_without(schema, key), **useful[0]}, depth, variant)
        if schema.get("allOf"):
            return self.value(self._merged(schema), depth, variant)
        kind = self._kind(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth)
        if kind == "string":
            return _string(schema, variant)
        if kind in ("integer", "number"):
            return _number(schema, kind == "integer", variant)
        if kind == "boolean":
            return variant % 2 == 0
        return None

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """`schema` with its `$ref` (a local JSON pointer) followed, siblings kept."""
        seen = 0
        while isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#") and seen < 64:
            target: Any = self.root
            for part in schema["$ref"].lstrip("#").strip("/").split("/"):
                if part:
                    target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
            schema = {**_without(schema, "$ref"), **(target if isinstance(target, dict) else {})}
            seen += 1
        return schema

    def _merged(self, schema: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = _without(schema, "allOf")
        for part in schema["allOf"]:
            part = self._resolve(part) if isinstance(part, dict) else {}
            properties = {**merged.get("properties", {}), **part.get("properties", {})}
            required = [*merged.get("required", []), *part.get("required", [])]
            merged = {**merged, **part, "properties": properties, "required": required}
        return merged

    def _kind(self, schema: dict[str, Any]) -> str | None:
        types = [t for t in _types(schema) if t != "null"]
        if types:
            return types[0]
        if "null" in _types(schema):
            return "null"
        if "properties" in schema or "required" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        return "string"

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = [str(name) for name in schema.get("required") or []]
        names = list(properties) if depth < _FULL_DEPTH else []
        names += [name for name in required if name not in names]
        out = {name: self.value(properties.get(name, {}), depth + 1, 0) for name in names}
        extra = schema.get("additionalProperties", True)
        for i in range(int(schema.get("minProperties") or 0) - len(out)):
            if extra is False:
                break
            out[f"extra_{i}"] = self.value(extra if isinstance(extra, dict) else {}, depth + 1, i)
        return out

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") or []
        items = schema.get("items", {})
        if isinstance(items, list):  # draft 4-7 tuple form
            prefix, items = items, schema.get("additionalItems", {})
        count = max(int(schema.get("minItems") or 0), 1 if depth < _FULL_DEPTH else 0)
        count = max(count, len(prefix) if depth < _FULL_DEPTH else 0)
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        if items is False:
            count = min(count, len(prefix))
        unique = bool(schema.get("uniqueItems"))
        return [
            self.value(prefix[i] if i < len(prefix) else items, depth + 1, i if unique else 0)
            for i in range(count)
        ]


def _types(schema: dict[str, Any]) -> list[str]:
    declared = schema.get("type")
    types = [str(t).lower() for t in (declared if isinstance(declared, list) else [declared])]
    types = [t for t in types if t != "none"]
    if schema.get("nullable"):
        types.append("null")
    return types


def _without(schema: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != key}


def _string(schema: dict[str, Any], variant: int) -> str:
    text = _FORMATS.get(str(schema.get("format")), "simulated")
    if variant and text == "simulated":
        text = f"simulated-{variant}"
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        candidates = (text, *(f"{c}{variant or ''}" for c in _PATTERN_CANDIDATES))
        text = next((c for c in candidates if re.search(pattern, c)), text)
    low = int(schema.get("minLength") or 0)
    if len(text) < low:
        text += "x" * (low - len(text))
    if "maxLength" in schema:
        text = text[: int(schema["maxLength"])]
    return text


def _number(schema: dict[str, Any], integer: bool, variant: int) -> int | float:
    step = float(schema.get("multipleOf") or (1 if integer else 0))
    low, high = (
        _bound(schema, "minimum", "exclusiveMinimum"),
        _bound(schema, "maximum", "exclusiveMaximum"),
    )
    gap = step or (1 if integer else 0.5)
    lo = None if low is None else low[0] + (gap if low[1] and not step else 0)
    hi = None if high is None else high[0] - (gap if high[1] and not step else 0)
    base = 1 if integer else 1.5
    value = (lo if lo is not None and base < lo else base) + variant
    if hi is not None and value > hi:
        value = hi if lo is None else max(lo, hi - variant)
    if step:
        value = math.ceil(value / step) * step
        if low is not None and low[1] and value <= low[0]:
            value += step
        if hi is not None and value > hi:
            value -= step
    if lo is not None and hi is not None and lo > hi and low and high:  # a narrow open interval
        value = (low[0] + high[0]) / 2
    return int(value) if integer and float(value).is_integer() else value


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str) -> tuple[float, bool] | None:
    """The bound and whether it is exclusive (draft 4's boolean form too)."""
    strict = schema.get(exclusive)
    if isinstance(strict, bool):
        return (float(schema[inclusive]), strict) if inclusive in schema else None
    if isinstance(strict, int | float):
        return float(strict), True
    if inclusive in schema:
        return float(schema[inclusive]), False
    return None
