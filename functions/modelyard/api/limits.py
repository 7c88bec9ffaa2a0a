"""Hostile bodies: what is refused before a request body is parsed, each a 4xx.

`parse_json_body` checks, in order of cost: the content type (415), UTF-8 (400
`invalid_encoding`), the JSON nesting depth (400 `json_too_deep`, measured on the raw bytes,
so a body like `[[[[...` never reaches the parser or, later, anything recursive such as
pydantic or `json.dumps` when forwarding it), JSON syntax (400 `invalid_json`) and unpaired
surrogate escapes such as `\ud800` (400 `invalid_encoding`: no text can hold them). The body's
size (413) is enforced while reading it (`api.app.read_json`).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from modelyard.errors import InvalidRequest, UnsupportedMediaType

#: deeper JSON is refused; a request's own structure needs ~6 levels and a tool's JSON schema
#: two per nested object, so 64 leaves room for any real schema
MAX_JSON_DEPTH = 64

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _STEP)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in `raw` (strings' contents ignored).

    Linear and non-recursive: string literals are cut out by a regular expression, the
    brackets left are counted by `accumulate` (C loops, ~10 ms for a megabyte of brackets).
    """
    if raw.count(b"[") + raw.count(b"{") <= 1:
        return raw.count(b"[") + raw.count(b"{")
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def check_content_type(content_type: str | None) -> None:
    """JSON or nothing: `application/json` or any `+json` type, in UTF-8 when a charset is
    given. A missing header is taken as JSON (some HTTP clients send none)."""
    if not content_type:
        return
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params, re.IGNORECASE)
    if (media != "application/json" and not media.endswith("+json")) or (
        charset and charset.group(1).lower() not in {"utf-8", "utf8"}
    ):
        raise UnsupportedMediaType(
            f"unsupported content type {content_type[:100]!r}: send application/json (UTF-8)"
        )


def parse_json_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The body as a JSON object, or a 4xx `GatewayError` saying what is wrong with it."""
    check_content_type(content_type)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"request body is not valid UTF-8 (byte {exc.start})", code="invalid_encoding"
        ) from None
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise InvalidRequest(
            f"request body nests arrays and objects {depth} deep; at most {MAX_JSON_DEPTH}",
            code="json_too_deep",
        )
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidRequest("request body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object", code="invalid_json")
    if _SURROGATE_ESCAPE.search(raw):
        _refuse_lone_surrogates(body)
    return body


def _refuse_lone_surrogates(body: dict[str, Any]) -> None:
    """`"\\ud800"` alone is valid JSON but no text: it would fail later, when the body is
    encoded for an upstream or a log line. Paired escapes (emoji) decode to one character."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(
            "request body has an unpaired UTF-16 surrogate escape", code="invalid_encoding"
        ) from None
