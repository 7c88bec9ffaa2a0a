"""The router Lambda's Mangum door, invoked with API Gateway events (moto server behind it)."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest
from openai.types.chat import ChatCompletion

from modelyard.local.stack import LocalStack

EVENTS = Path(__file__).parents[2] / "events"


@pytest.fixture(scope="module")
def handler(stack: LocalStack):
    from handlers.router import handler

    return handler


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def body_of(response: dict) -> dict:
    raw = response["body"]
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    return json.loads(raw)


@pytest.mark.parametrize("name", ["rest_v1_chat_completion.json", "http_v2_chat_completion.json"])
def test_events_get_a_completion_the_openai_sdk_accepts(handler, name):
    response = handler(load(name), None)
    assert response["statusCode"] == 200
    completion = ChatCompletion.model_validate(body_of(response))
    assert completion.choices[0].message.content
    headers = {k.lower(): v for k, v in response["headers"].items()}
    assert headers["x-modelyard-model"] and headers["x-modelyard-cost-usd"]


def with_change(name: str, *, body: str | None = None, auth: str | None = "keep") -> dict:
    event = copy.deepcopy(load(name))
    if body is not None:
        event["body"] = body
    for key in ("headers", "multiValueHeaders"):
        headers = event.get(key) or {}
        for header in list(headers):
            if header.lower() == "authorization" and auth != "keep":
                if auth is None:
                    del headers[header]
                else:
                    headers[header] = auth if key == "headers" else [auth]
    return event


@pytest.mark.parametrize("name", ["rest_v1_chat_completion.json", "http_v2_chat_completion.json"])
@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"body": "{not json"}, 400, "invalid_json"),
        ({"auth": None}, 401, "missing_api_key"),
        ({"auth": "Bearer sk-nope"}, 401, "invalid_api_key"),
        (
            {
                "body": json.dumps(
                    {"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}
                )
            },
            404,
            "model_not_found",
        ),
        (
            {
                "body": json.dumps(
                    {"model": "auto", "messages": [{"role": "user", "content": "x" * 1_100_000}]}
                )
            },
            413,
            "request_too_large",
        ),
    ],
)
def test_bad_requests_get_the_contract_status_and_error_shape(handler, name, change, status, code):
    response = handler(with_change(name, **change), None)
    assert response["statusCode"] == status
    error = body_of(response)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
