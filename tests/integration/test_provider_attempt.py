"""The durable path's attempt handler, called directly (moto cannot run Lambda code)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from handlers import provider_attempt
from handlers.provider_attempt import ATTEMPT_ERRORS, handler
from modelyard import aws
from modelyard.jobs import job_key
from modelyard.local.stack import USAGE_TABLE, LocalStack
from modelyard.pricing.prices import format_usd
from modelyard.providers.errors import ErrorKind, UpstreamError
from modelyard.store.dynamo import from_item, to_item
from modelyard.usage.events import AttemptRecord

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


class TimingOut:
    """An adapter whose call runs for a while and then times out (the provider kept working)."""

    async def chat(self, *_: Any) -> None:
        await asyncio.sleep(0.05)
        raise UpstreamError(ErrorKind.TIMEOUT, "simulated timeout")


def test_each_call_is_recorded_on_the_job_priced_as_its_provider_invoices_it(
    stack: LocalStack, sim, monkeypatch: pytest.MonkeyPatch
):
    job_id = job_with(BODY)
    sim.configure_now(faults="deepseek-v4-flash=429:1.0")
    with pytest.raises(ATTEMPT_ERRORS[ErrorKind.RATE_LIMITED]):
        handler({"job_id": job_id, "model": "deepseek-v4-flash"}, None)
    monkeypatch.setattr(provider_attempt, "adapter_for", lambda wire: TimingOut())
    with pytest.raises(ATTEMPT_ERRORS[ErrorKind.TIMEOUT]):
        handler({"job_id": job_id, "model": "deepseek-v4-flash"}, None)
    monkeypatch.undo()
    sim.configure_now(faults="")
    out = handler({"job_id": job_id, "model": "deepseek-v4-flash"}, None)

    item = aws.client("dynamodb").get_item(TableName=USAGE_TABLE, Key=job_key(job_id))["Item"]
    refused, timed_out, answered = (
        AttemptRecord.model_validate(a) for a in from_item(item)["attempts"]
    )
    # a 429 is not billed; a call abandoned in flight is billed for the prompt it read, which
    # only the gateway's estimate knows; the answer at its exact usage
    assert (refused.error_type, refused.cost_usd, refused.usage_estimated) == (
        "rate_limited",
        0,
        False,
    )
    assert timed_out.error_type == "timeout" and timed_out.usage_estimated
    assert timed_out.input_tokens and timed_out.cost_usd and timed_out.cost_usd > 0
    assert (answered.status, answered.output_tokens) == ("ok", 4)
    assert format_usd(answered.cost_usd) == out["cost_usd"]
