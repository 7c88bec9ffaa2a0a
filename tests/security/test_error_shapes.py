"""No 500 from what a client sends, and every error in its endpoint's own shape.

`/v1/messages` is validated against Anthropic's Messages schema: each type-confused body below
(the review's, and more) is a 400 in Anthropic's error shape with both request id headers.
An exception no handler expected is a 500 in the endpoint's shape, with the request id; error
messages never echo kilobytes of input; a client that goes away is one log line.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import httpx
import pytest

from modelyard.api.errors import MAX_MESSAGE_CHARS
from modelyard.local.stack import LocalStack
from tests.security.support import root_url

MESSAGE = {"role": "user", "content": "hi"}
MESSAGES = {"model": "claude-4-sonnet", "max_tokens": 8, "messages": [MESSAGE]}


def _with(content: Any) -> dict[str, Any]:
    return {**MESSAGES, "messages": [{"role": "user", "content": content}]}


TYPE_CONFUSED = [
    {**MESSAGES, "metadata": ["user"]},
    {**MESSAGES, "metadata": "user"},
    {**MESSAGES, "metadata": {"user_id": 5}},
    {**MESSAGES, "system": 5},
    {**MESSAGES, "system": [5]},
    {**MESSAGES, "system": [{"type": "image"}]},
    {**MESSAGES, "tools": [5]},
    {**MESSAGES, "tools": "search"},
    {**MESSAGES, "tools": [{"input_schema": {"type": "object"}}]},  # no name
    {**MESSAGES, "tools": [{"name": "f", "input_schema": 5}]},
    {**MESSAGES, "tool_choice": "auto"},
    {**MESSAGES, "tool_choice": {"type": "tool"}},  # no name
    {**MESSAGES, "tool_choice": {"type": "sometimes"}},
    {**MESSAGES, "stop_sequences": "STOP"},
    {**MESSAGES, "temperature": "hot"},
    {**MESSAGES, "max_tokens": [8]},
    {**MESSAGES, "max_tokens": 0},
    {**MESSAGES, "model": 5},
    {**MESSAGES, "modelyard": 5},
    {**MESSAGES, "messages": "hi"},
    {**MESSAGES, "messages": [5]},
    {**MESSAGES, "messages": []},
    {**MESSAGES, "messages": [{"content": "hi"}]},  # no role
    {**MESSAGES, "messages": [{"role": "system", "content": "hi"}]},
    {**MESSAGES, "messages": [{"role": "user"}]},  # no content
    _with(5),
    _with(["a"]),
    _with([{"type": "text"}]),
    _with([{"type": "text", "text": 5}]),
    _with([{"type": "image", "source": 5}]),
    _with([{"type": "image", "source": {"type": "base64"}}]),
    _with([{"type": "image", "source": {"type": "url"}}]),
    _with([{"type": "tool_use", "id": "t1", "name": "f", "input": "args"}]),
    _with([{"type": "tool_use", "name": "f", "input": {}}]),  # no id
    _with([{"type": "tool_result", "tool_use_id": "t1", "content": 5}]),
    _with([{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text"}]}]),
    _with([{"type": "tool_result", "content": "ok"}]),  # no tool_use_id
    _with([{"type": "hologram"}]),
]


@pytest.mark.parametrize("body", TYPE_CONFUSED)
def test_type_confused_messages_body_is_a_400_in_anthropics_shape(
    api: httpx.Client, body: dict[str, Any]
) -> None:
    response = api.post("/messages", json=body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error" and payload["error"]["message"]
    request_id = response.headers["x-modelyard-request-id"]
    assert response.headers["request-id"] == request_id == response.headers["x-request-id"]


def test_a_valid_messages_body_with_every_block_kind_still_works(api: httpx.Client) -> None:
    turns = [
        {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "weather", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "text", "text": "sun"}],
                },
                {"type": "thinking", "thinking": "..."},
            ],
        },
    ]
    body = {
        **MESSAGES,
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        "messages": turns,
        "metadata": {"user_id": "u1"},
        "tools": [{"name": "weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "weather"},
    }
    response = api.post("/messages", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "message"


@pytest.fixture
def broken_gateway(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's first step fails as a bug would (not as a client error)."""
    gateway = stack.app.state.gateway()

    async def bug(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug, with a detail that must not leave the process")

    monkeypatch.setattr(gateway, "authenticate", bug)


@pytest.mark.parametrize(
    ("method", "path", "body", "anthropic"),
    [
        ("GET", "/v1/models", None, False),
        ("POST", "/v1/chat/completions", {"model": "auto", "messages": [MESSAGE]}, False),
        ("POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "x"}, False),
        ("POST", "/v1/messages", MESSAGES, True),
    ],
)
def test_an_unexpected_exception_is_a_500_in_the_endpoints_shape_with_the_request_id(
    stack: LocalStack, broken_gateway: None, method: str, path: str, body: Any, anthropic: bool
) -> None:
    response = httpx.request(
        method,
        root_url(stack) + path,
        json=body,
        headers={"authorization": f"Bearer {stack.api_key}"},
    )
    assert response.status_code == 500
    assert "must not leave" not in response.text
    payload = response.json()
    if anthropic:
        assert payload["type"] == "error" and payload["error"]["type"] == "api_error"
        assert response.headers["request-id"] == response.headers["x-modelyard-request-id"]
    else:
        assert payload["error"]["code"] == "internal_error"
    assert response.headers["x-modelyard-request-id"].startswith("req_")


def test_error_messages_do_not_echo_a_64_kb_input(api: httpx.Client) -> None:
    task = "x" * 65536
    body = {"model": "auto", "messages": [MESSAGE], "modelyard": {"task": task}}
    response = api.post("/chat/completions", json=body)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "xxxx" in message and len(message) < MAX_MESSAGE_CHARS + 64


def test_a_client_that_disconnects_mid_body_is_one_log_line(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    url = httpx.URL(root_url(stack))
    caplog.set_level(logging.INFO)
    with socket.create_connection((url.host, url.port)) as raw:
        raw.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            + f"authorization: Bearer {stack.api_key}\r\ncontent-length: 100000\r\n\r\n".encode()
            + b'{"model": "auto", "messages": ['
        )
        time.sleep(0.3)  # the gateway is reading the body
    deadline = time.monotonic() + 5
    while not any("client disconnected" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
        time.sleep(0.05)
    time.sleep(0.2)
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/assistants"),
        ("GET", "/v1/files"),
        ("POST", "/v1/audio/speech"),
        ("GET", "/v1/no/such/thing"),
    ],
)
def test_an_endpoint_the_gateway_lacks_is_a_404_naming_it(
    stack: LocalStack, method: str, path: str
) -> None:
    response = httpx.request(method, root_url(stack) + path, json={})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "unsupported_endpoint" and error["type"] == "invalid_request_error"
    assert f"{method} {path}" in error["message"] and "not an endpoint" in error["message"]
    assert response.headers["x-modelyard-request-id"].startswith("req_")


def test_a_wrong_method_on_a_known_path_is_a_405_in_openais_shape(stack: LocalStack) -> None:
    response = httpx.get(root_url(stack) + "/v1/chat/completions")
    assert response.status_code == 405
    error = response.json()["error"]
    assert error["code"] == "method_not_allowed"
    assert error["message"] == "GET is not allowed on /v1/chat/completions"
    assert "POST" in response.headers["allow"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/messages", 405), ("POST", "/v1/messages/batches", 404)],
)
def test_messages_paths_answer_unmatched_requests_in_anthropics_shape(
    stack: LocalStack, method: str, path: str, status: int
) -> None:
    response = httpx.request(method, root_url(stack) + path)
    assert response.status_code == status
    payload = response.json()
    kind = "not_found_error" if status == 404 else "invalid_request_error"
    assert payload["type"] == "error" and payload["error"]["type"] == kind
    assert path in payload["error"]["message"]
    assert response.headers["request-id"] == response.headers["x-modelyard-request-id"]
