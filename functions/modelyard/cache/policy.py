"""When a chat completion may come from the response cache, and under which key.

Directives come from the request (`Cache-Control` header and the body's `modelyard.cache`) and
the key's `cache` setting:

- key `cache: "off"` never caches; `"request"` caches only requests that ask; `"allow"` (the
  default) also caches deterministic requests (temperature 0 or a fixed seed) unasked;
  `"always"` caches every request (the key opts in for all of them).
- A request asks with `Cache-Control: max-age=N` or `"modelyard": {"cache": true}` /
  `{"cache": {"max_age": N}}`, and opts out with `"cache": false`.
- `max-age=N`: accept an entry at most N seconds old, and store a new one for N seconds
  (default `DEFAULT_TTL_SECONDS`, at most `MAX_TTL_SECONDS`). `max-age=0` and `no-cache` skip
  the lookup and store the fresh answer (a refresh); `no-store` never writes.

The key is SHA-256 over the tenant and the request with only the fields that cannot change the
answer removed (`IGNORED_FIELDS`, `IGNORED_OPTIONS`): every other field, known or not yet
known, is part of it, so a field a provider adds tomorrow can only cause a miss, never a
wrong hit. Messages, tools and parameters are compared exactly as sent (canonical JSON), so
`"temperature": 0` and an absent temperature are different requests.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_TTL_SECONDS = 24 * 3600
MAX_TTL_SECONDS = 30 * 24 * 3600
#: the key's `cache` setting
CacheMode = Literal["allow", "always", "request", "off"]
CACHE_MODES: tuple[str, ...] = ("allow", "always", "request", "off")
#: request fields that change how the answer is delivered or attributed, not what it says
IGNORED_FIELDS = frozenset(
    {
        "stream",
        "stream_options",
        "user",
        "metadata",
        "store",
        "service_tier",
        "safety_identifier",
        "prompt_cache_key",
    }
)
#: `modelyard` options that do not change the answer (the rest pick the model: they do)
IGNORED_OPTIONS = frozenset({"cache", "hedge"})
#: `x-modelyard-cache` values
HIT, MISS, BYPASS = "hit", "miss", "bypass"


@dataclass(frozen=True, slots=True)
class CacheDecision:
    """What the cache may do for one request."""

    key: str
    #: look up an entry first (False for `no-cache` / `max-age=0`: a refresh)
    read: bool
    #: store the answer (False for `no-store`)
    write: bool
    #: seconds a new entry lives
    ttl: int
    #: the oldest entry (in seconds) the request accepts
    max_age: int

    @property
    def header(self) -> str:
        """`x-modelyard-cache` before the lookup: `bypass` when there is none."""
        return MISS if self.read else BYPASS


def decide(
    tenant: str,
    body: dict[str, Any],
    mode: str = "allow",
    cache_control: str | None = None,
    header_policy: str | None = None,
) -> CacheDecision | None:
    """The cache decision for a chat body, or None when caching does not apply."""
    if mode == "off":
        return None
    header = _parse_cache_control(cache_control)
    options = (body.get("modelyard") or {}).get("cache")
    if options is False:
        return None
    asked = options is True or isinstance(options, dict) or "max-age" in header
    if isinstance(options, dict):
        header = {**header, **_body_directives(options)}
    if not (asked or mode == "always" or (mode == "allow" and is_deterministic(body))):
        return None
    max_age = header.get("max-age")
    ttl = DEFAULT_TTL_SECONDS if not max_age else min(int(max_age), MAX_TTL_SECONDS)
    return CacheDecision(
        key=request_key(tenant, body, header_policy),
        read="no-cache" not in header and max_age != 0,
        write="no-store" not in header,
        ttl=ttl,
        max_age=ttl if max_age is None else min(int(max_age), MAX_TTL_SECONDS),
    )


def is_deterministic(body: dict[str, Any]) -> bool:
    """Temperature 0 or a fixed seed: the request asks for the same answer every time."""
    temperature = body.get("temperature")
    return (isinstance(temperature, int | float) and temperature == 0) or (
        body.get("seed") is not None
    )


def request_key(tenant: str, body: dict[str, Any], header_policy: str | None = None) -> str:
    """SHA-256 (hex) of the tenant and the answer-changing part of the request."""
    request = {k: v for k, v in body.items() if k not in IGNORED_FIELDS}
    options = request.pop("modelyard", None)
    if isinstance(options, dict):
        routing = {k: v for k, v in options.items() if k not in IGNORED_OPTIONS}
        if routing:
            request["modelyard"] = routing
    if header_policy:
        request["x-modelyard-policy"] = header_policy
    canonical = json.dumps(
        {"v": 1, "tenant": tenant, "request": request},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _parse_cache_control(value: str | None) -> dict[str, int | None]:
    """`no-cache`, `no-store` and `max-age=N` of a Cache-Control header (others ignored)."""
    directives: dict[str, int | None] = {}
    for part in (value or "").lower().split(","):
        name, _, argument = part.strip().partition("=")
        if name in ("no-cache", "no-store"):
            directives[name] = None
        elif name == "max-age":
            seconds = argument.strip().strip('"')
            if seconds.isdigit():
                directives[name] = int(seconds)
    return directives


def _body_directives(options: dict[str, Any]) -> dict[str, int | None]:
    directives: dict[str, int | None] = {}
    if options.get("max_age") is not None:
        directives["max-age"] = int(options["max_age"])
    for name in ("no_cache", "no_store"):
        if options.get(name):
            directives[name.replace("_", "-")] = None
    return directives
