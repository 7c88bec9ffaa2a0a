"""The durable path's attempt handler, called directly (moto cannot run Lambda code)."""

from __future__ import annotations

import json
import uuid

import pytest

from handlers.provider_attempt import ATTEMPT_ERRORS, handler
from modelyard import aws
from modelyard.jobs import job_key
from modelyard.local.stack import USAGE_TABLE, LocalStack
from modelyard.providers.errors import ErrorKind
from modelyard.store.dynamo import from_item, to_item

BODY = {"messages": [{"role": "user", "content": "hi [sim:tokens=4]"}]}


def job_with(body: dict) -> str:
    """A job item holding `body`, as JobService.start writes it."""
    job_id = "job_" + uuid.uuid4().hex
    item = {**job_key(job_id), **to_item({"body_json": json.dumps(body)})}
    aws.client("dynamodb").put_item(TableName=USAGE_TABLE, Item=item)
    return job_id


def test_attempt_reads_the_request_and_stores_the_answer_in_the_job_item(stack: LocalStack, sim):
    job_id = job_with(BODY)
    out = handler({"job_id": job_id, "model": "deepseek-v4-flash"}, None)
    assert "completion" not in out, "the answer stays out of the execution's state"
    assert out["usage"]["output_tokens"] == 4
    assert out["cost_usd"] and out["price_version"] == "deepseek-v4-flash@2026-01-01"
    item = aws.client("dynamodb").get_item(TableName=USAGE_TABLE, Key=job_key(job_id))["Item"]
    completion = json.loads(from_item(item)["completion_json"])
    assert completion["choices"][0]["message"]["content"]


def test_attempt_failure_is_named_by_the_taxonomy(stack: LocalStack, sim):
    sim.configure_now(faults="deepseek-v4-flash=429:1.0")
    with pytest.raises(ATTEMPT_ERRORS[ErrorKind.RATE_LIMITED]) as failure:
        handler({"job_id": job_with(BODY), "model": "deepseek-v4-flash"}, None)
    assert type(failure.value).__name__ == "rate_limited"
