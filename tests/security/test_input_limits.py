"""Hostile input is answered 4xx in OpenAI's error shape, never 5xx."""

from __future__ import annotations

import json

import httpx
import pytest

from modelyard.api.limits import MAX_JSON_DEPTH, json_depth
from modelyard.api.schemas import (
    MAX_MESSAGE_CHARS,
    MAX_MESSAGES,
    MAX_TOOL_SCHEMA_BYTES,
    MAX_TOOLS,
    MAX_TOP_LEVEL_FIELDS,
)
from modelyard.local.stack import LocalStack
from tests.security.support import CHAT

JSON = {"content-type": "application/json"}


def _tool(index: int, parameters: dict | None = None) -> dict:
    return {"type": "function", "function": {"name": f"f{index}", "parameters": parameters or {}}}


def _messages(*contents: str) -> list[dict]:
    return [{"role": "user", "content": c} for c in contents]


CASES = {
    # raw bytes or a body; expected status; expected code (None: any)
    "not json": (b"{not json", JSON, 400, "invalid_json"),
    "not an object": (b"[1, 2]", JSON, 400, "invalid_json"),
    "invalid utf-8": (b'{"model": "\xff\xfe"}', JSON, 400, "invalid_encoding"),
    "deep arrays": (b"[" * 100_000 + b"]" * 100_000, JSON, 400, "json_too_deep"),
    "deep objects": (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, JSON, 400, "json_too_deep"),
    "deep inside a field": (
        json.dumps({**CHAT, "metadata": json.loads("[" * 80 + "]" * 80)}).encode(),
        JSON,
        400,
        "json_too_deep",
    ),
    "form content type": (
        b"model=x",
        {"content-type": "application/x-www-form-urlencoded"},
        415,
        "unsupported_media_type",
    ),
    "text content type": (json.dumps(CHAT).encode(), {"content-type": "text/plain"}, 415, None),
    "latin-1 charset": (
        json.dumps(CHAT).encode(),
        {"content-type": "application/json; charset=latin-1"},
        415,
        None,
    ),
    "too large": (b'{"x": "' + b"a" * (1024 * 1024 + 10) + b'"}', JSON, 413, "request_too_large"),
    "too many messages": (
        {**CHAT, "messages": _messages(*["hi"] * (MAX_MESSAGES + 1))},
        None,
        400,
        None,
    ),
    "one message too long": (
        {**CHAT, "messages": _messages("a" * (MAX_MESSAGE_CHARS + 1))},
        None,
        400,
        None,
    ),
    "all messages too long": (
        {**CHAT, "messages": _messages(*["a" * 500_001] * 2)},
        None,
        400,
        None,
    ),
    "too many tools": (
        {**CHAT, "tools": [_tool(i) for i in range(MAX_TOOLS + 1)]},
        None,
        400,
        None,
    ),
    "tool schema too large": (
        {
            **CHAT,
            "tools": [_tool(0, {"type": "object", "description": "x" * MAX_TOOL_SCHEMA_BYTES})],
        },
        None,
        400,
        None,
    ),
    "too many top-level fields": (
        {**CHAT, **{f"extra_{i}": i for i in range(MAX_TOP_LEVEL_FIELDS)}},
        None,
        400,
        None,
    ),
    "paired surrogates are fine, a lone one is not": (
        b'{"model": "x", "messages": [{"role": "user", "content": "\\ud800"}]}',
        JSON,
        None,
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_gets_a_4xx_in_openais_shape(api: httpx.Client, name: str):
    body, headers, status, code = CASES[name]
    if isinstance(body, dict):
        response = api.post("/chat/completions", json=body)
    else:
        response = api.post("/chat/completions", content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text[:300]
    if status is not None:
        assert response.status_code == status, response.text[:300]
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    if code is not None:
        assert error["code"] == code


def test_unknown_top_level_fields_are_forwarded(api: httpx.Client):
    response = api.post("/chat/completions", json={**CHAT, "a_field_from_tomorrow": {"x": 1}})
    assert response.status_code == 200


def test_admin_bodies_have_the_same_limits(stack: LocalStack):
    root = str(stack.base_url).removesuffix("/v1")  # type: ignore[attr-defined]
    auth = {"authorization": f"Bearer {stack.admin_key}"}
    deep = httpx.post(
        f"{root}/admin/keys", content=b"[" * 5_000, headers={**auth, **JSON}, timeout=30
    )
    assert deep.status_code == 400 and deep.json()["error"]["code"] == "json_too_deep"
    unknown = httpx.post(f"{root}/admin/keys", json={"tenant": "t", "admin": True}, headers=auth)
    assert unknown.status_code == 400  # admin bodies are closed: no field is forwarded


def test_depth_is_measured_without_recursion_and_ignores_strings():
    assert json_depth(b'{"a": "[[[[[[[[[[", "b": [1, {"c": []}]}') == 4
    assert json_depth(b'"\\"[[[["') == 0
    assert json_depth(b"[" * 1_000_000) == 1_000_000
    assert MAX_JSON_DEPTH < 100
