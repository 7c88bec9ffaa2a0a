"""SendMessageBatch as SQS's JSON protocol documents it, signed with SigV4, retried like
botocore's standard mode (throttling, 5xx, a lost connection), never retried when SQS refuses.

https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from modelyard.usage import sqs
from modelyard.usage.sqs import SqsBatchSender, SqsError

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/modelyard-usage"


def sqs_client(service: str) -> Any:
    assert service == "sqs"
    meta = SimpleNamespace(
        endpoint_url="https://sqs.eu-west-1.amazonaws.com", region_name="eu-west-1"
    )
    return SimpleNamespace(meta=meta)


def send(monkeypatch, answers: list[Any], bodies: list[str]) -> tuple[Any, list[httpx.Request]]:
    """Send `bodies` against an SQS that gives `answers` in turn (a response or an exception)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE12")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setattr(sqs, "BACKOFF_SECONDS", 0.001)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[len(seen) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    monkeypatch.setattr(sqs, "http_client", lambda: client)

    async def run() -> Any:
        try:
            return await SqsBatchSender(QUEUE, sqs_client).send(bodies)
        except SqsError as exc:
            return exc

    return asyncio.run(run()), seen


def ok(failed: list[str] = ()) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "Successful": [],
            "Failed": [{"Id": i, "SenderFault": False, "Code": "InternalError"} for i in failed],
        },
    )


def test_the_request_is_a_signed_json_protocol_call(monkeypatch):
    outcome, [request] = send(monkeypatch, [ok()], ['{"a":1}', '{"b":2}'])
    assert outcome == set()
    assert str(request.url) == "https://sqs.eu-west-1.amazonaws.com/"
    assert request.headers["x-amz-target"] == "AmazonSQS.SendMessageBatch"
    assert request.headers["content-type"] == "application/x-amz-json-1.0"
    authorization = request.headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEEXAMPLE12/")
    assert "/eu-west-1/sqs/aws4_request" in authorization and "x-amz-target" in authorization
    assert json.loads(request.content) == {
        "QueueUrl": QUEUE,
        "Entries": [{"Id": "0", "MessageBody": '{"a":1}'}, {"Id": "1", "MessageBody": '{"b":2}'}],
    }


def test_entries_sqs_did_not_take_are_named(monkeypatch):
    outcome, _ = send(monkeypatch, [ok(failed=["1"])], ["x", "y", "z"])
    assert outcome == {1}


@pytest.mark.parametrize(
    "first",
    [
        httpx.Response(500, json={"__type": "com.amazonaws.sqs#InternalError"}),
        httpx.Response(400, json={"__type": "com.amazonaws.sqs#ThrottlingException"}),
        httpx.ConnectError("reset"),
    ],
)
def test_throttling_server_errors_and_lost_connections_are_retried(monkeypatch, first):
    outcome, seen = send(monkeypatch, [first, ok()], ["x"])
    assert outcome == set() and len(seen) == 2
    assert seen[0].headers["x-amz-date"] <= seen[1].headers["x-amz-date"]  # signed afresh


def test_a_refusal_is_not_retried(monkeypatch):
    refused = httpx.Response(
        400, json={"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "no queue"}
    )
    outcome, seen = send(monkeypatch, [refused, ok()], ["x"])
    assert isinstance(outcome, SqsError) and "QueueDoesNotExist" in str(outcome)
    assert len(seen) == 1


def test_attempts_are_bounded(monkeypatch):
    down = httpx.Response(503, text="")
    outcome, seen = send(monkeypatch, [down] * 5, ["x"])
    assert isinstance(outcome, SqsError) and len(seen) == sqs.ATTEMPTS
