"""The durable path under moto's Step Functions executor: the real definition, tiny intervals.

The state machine is created from infra/statemachine/fallback.asl.json with the retry policy's
own ErrorEquals but 1-second intervals and one retry (Step Functions' sleeps are real). Each
attempt runs handlers.provider_attempt in process against the simulated upstreams, so faults
come from the simulator and errors are named by the taxonomy, as they are on AWS.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from handlers import job_usage
from modelyard import aws
from modelyard.auth.admin import create_key
from modelyard.auth.keys import KeyRecord
from modelyard.jobs import AsyncNotConfigured, JobService, prefers_async
from modelyard.local import durable
from modelyard.local.stack import USAGE_TABLE, LocalStack
from modelyard.resilience.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from tests.helpers import ledger_items

#: the deployed policy's error names, with the shortest sleeps Step Functions allows
FAST_POLICY = RetryPolicy(
    tuple(
        replace(r, interval_seconds=1, max_attempts=1, backoff_rate=1.0, max_delay_seconds=1)
        for r in DEFAULT_RETRY_POLICY.retriers
    )
)
BODY = {
    "model": "deepseek-v4-flash",
    "messages": [{"role": "user", "content": "hi [sim:tokens=4]"}],
    "modelyard": {"fallbacks": ["qwen3-32b"]},
}


@pytest.fixture(scope="module")
def fast_jobs(stack: LocalStack) -> JobService:
    """A JobService on a copy of the state machine rendered with FAST_POLICY."""
    arn = durable.create_state_machine(
        aws.client("stepfunctions"),
        aws.client("iam"),
        stack.substitutions(),
        name="modelyard-fallback-fast",
        policy=FAST_POLICY,
    )
    return JobService(USAGE_TABLE, arn, aws.client)


@pytest.fixture(scope="module")
def key(stack: LocalStack) -> KeyRecord:
    gateway = stack.app.state.gateway()
    return asyncio.run(gateway.authenticate(f"Bearer {stack.api_key}"))


def start(stack: LocalStack, jobs: JobService, key: KeyRecord) -> tuple[str, str]:
    """Plan BODY as the gateway would and start it as a job; (job id, request id)."""
    plan, _ = asyncio.run(stack.app.state.gateway().plan(BODY, key))
    assert [c.model.id for c in plan.candidates] == ["deepseek-v4-flash", "qwen3-32b"]
    request_id = f"req_{uuid.uuid4().hex}"
    return jobs.start(plan, BODY, key, request_id), request_id


def finished(jobs: JobService, job_id: str, timeout: float = 20) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    assert jobs.state_machine_arn
    arn = f"{jobs.state_machine_arn.replace(':stateMachine:', ':execution:')}:{job_id}"
    deadline = time.monotonic() + timeout
    while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{job_id} still running"
        time.sleep(0.1)
    execution["events"] = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return execution


def task_outcomes(events: list[dict[str, Any]], resource: str) -> list[str]:
    """'ok' or the error name of every Task call to `resource`, in order."""
    outcomes = []
    for event in events:
        if (
            event["type"] == "TaskSucceeded"
            and event["taskSucceededEventDetails"]["resource"] == resource
        ):
            outcomes.append("ok")
        elif (
            event["type"] == "TaskFailed"
            and event["taskFailedEventDetails"].get("resource") == resource
        ):
            outcomes.append(event["taskFailedEventDetails"]["error"])
    return outcomes


def test_later_candidate_succeeds_after_retries_and_catch(stack, sim, fast_jobs, key):
    sim.configure_now(faults="deepseek-v4-flash=429:1.0")
    job_id, request_id = start(stack, fast_jobs, key)

    execution = finished(fast_jobs, job_id)

    assert execution["status"] == "SUCCEEDED"
    # first candidate: the try and its one retry, both rate_limited; then the Catch moves on;
    # the last invoke is JobUsage's hand-off
    assert task_outcomes(execution["events"], "invoke") == [
        "rate_limited",
        "rate_limited",
        "ok",
        "ok",
    ]
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in execution["events"]
        if e["type"].endswith("StateEntered")
    ]
    # the function recorded its own failed calls: nothing for RecordAttemptError to add
    assert entered.count("Attempt") == 2 and "RecordAttemptError" not in entered
    assert entered[-2:] == ["RecordSuccess", "PublishSuccess"]

    job = fast_jobs.get(job_id, key.tenant)
    assert job["status"] == "succeeded" and job["error"] is None
    assert [(a["model"], a["status"], a["error_type"]) for a in job["attempts"]] == [
        ("deepseek-v4-flash", "error", "rate_limited"),  # the try and its retry: two calls
        ("deepseek-v4-flash", "error", "rate_limited"),
        ("qwen3-32b", "ok", None),
    ]
    assert "simulated 429" in job["attempts"][0]["message"]
    assert job["result"]["choices"][0]["message"]["content"]
    assert job["result"]["modelyard"]["model"] == "qwen3-32b"

    stack.poller.drain()
    (entry,) = ledger_items(request_id)
    assert (entry["status"], entry["model"], entry["output_tokens"]) == ("ok", "qwen3-32b", 4)
    assert str(entry["cost_usd"]) == job["result"]["modelyard"]["cost_usd"]
    # every call is on the ledger, priced: the refused ones answered 429s, which are not billed
    assert [(a["status"], a["cost_usd"]) for a in entry["attempts"]] == [
        ("error", 0),
        ("error", 0),
        ("ok", entry["cost_usd"]),
    ]
    assert entry["provider_cost_usd"] == entry["cost_usd"]


def test_total_failure_is_recorded(stack, sim, fast_jobs, key):
    sim.configure_now(faults="deepseek-v4-flash=500:1.0,qwen3-32b=401:1.0")
    job_id, request_id = start(stack, fast_jobs, key)

    execution = finished(fast_jobs, job_id)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "all_upstreams_failed"
    # server_error is retried once; auth_error is not retried, only caught; then the hand-off
    assert task_outcomes(execution["events"], "invoke") == [
        "server_error",
        "server_error",
        "auth_error",
        "ok",
    ]
    job = fast_jobs.get(job_id, key.tenant)
    assert job["status"] == "failed" and job["result"] is None
    assert job["error"]["code"] == "all_upstreams_failed"
    job_errors = [(a["model"], a["error_type"]) for a in job["attempts"]]
    assert job_errors == [
        ("deepseek-v4-flash", "server_error"),
        ("deepseek-v4-flash", "server_error"),
        ("qwen3-32b", "auth_error"),
    ]
    stack.poller.drain()
    (entry,) = ledger_items(request_id)
    assert (entry["status"], entry["model"], str(entry["cost_usd"])) == ("failed", "qwen3-32b", "0")
    assert [a["error_type"] for a in entry["attempts"]] == [a[1] for a in job_errors]
    assert entry["provider_cost_usd"] == 0  # error answers: not billed


class RefusingSqs:
    """SQS refusing every SendMessage, as an outage does after botocore's own retries."""

    def __init__(self) -> None:
        self.refused = 0

    def send_message(self, **_: Any) -> None:
        self.refused += 1
        raise ClientError(
            {"Error": {"Code": "InternalError", "Message": "simulated SQS outage"}}, "SendMessage"
        )


def test_a_job_whose_usage_the_queue_refuses_is_ledgered_directly(
    stack, sim, fast_jobs, key, monkeypatch
):
    """The queue refuses the job's usage event: JobUsage writes the ledger itself, once (not
    after the poller drains: it never reached the queue), with every attempt priced; the same
    hand-off retried is a duplicate, never a second item or charge."""
    sqs = RefusingSqs()
    clients = SimpleNamespace(client=lambda name: sqs if name == "sqs" else aws.client(name))
    monkeypatch.setattr(job_usage, "aws", clients)
    sim.configure_now(faults="deepseek-v4-flash=500:1.0")
    job_id, request_id = start(stack, fast_jobs, key)

    execution = finished(fast_jobs, job_id)

    assert execution["status"] == "SUCCEEDED", execution.get("error")
    assert sqs.refused == 1
    (entry,) = ledger_items(request_id)
    assert (entry["status"], entry["model"]) == ("ok", "qwen3-32b")
    assert [a["error_type"] for a in entry["attempts"]] == ["server_error", "server_error", None]
    assert entry["provider_cost_usd"] == entry["cost_usd"] > 0
    [scheduled] = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in execution["events"]
        if e["type"] == "TaskScheduled"
        and durable.JOB_USAGE_FUNCTION in e["taskScheduledEventDetails"]["parameters"]
    ]
    again = job_usage.handler(scheduled["Payload"], None)
    assert again == {"request_id": request_id, "handed_off": "ledger (duplicate)"}
    stack.poller.drain()
    assert len(ledger_items(request_id)) == 1


def test_a_job_started_without_reservations_is_still_ledgered(stack, sim, fast_jobs, key):
    """As a router older than the reservations field starts it (during a deploy)."""
    sfn = aws.client("stepfunctions")

    class OlderRouter:
        def start_execution(self, input: str, **kwargs: Any) -> Any:
            legacy = json.loads(input)
            del legacy["reservations"]
            return sfn.start_execution(input=json.dumps(legacy), **kwargs)

    def clients(service: str) -> Any:
        return OlderRouter() if service == "stepfunctions" else aws.client(service)

    jobs = JobService(USAGE_TABLE, fast_jobs.state_machine_arn, clients)
    job_id, request_id = start(stack, jobs, key)
    assert finished(jobs, job_id)["status"] == "SUCCEEDED"
    stack.poller.drain()
    (entry,) = ledger_items(request_id)
    assert entry["status"] == "ok" and entry["cost_usd"] > 0


def test_api_round_trip(stack: LocalStack, sim, api: httpx.Client):
    accepted = api.post("/chat/completions", json=BODY, headers={"Prefer": "respond-async"})

    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert job["object"] == "chat.completion.job" and job["status"] == "running"
    assert accepted.headers["location"] == f"/v1/jobs/{job['id']}"
    assert accepted.headers["preference-applied"] == "respond-async"

    deadline = time.monotonic() + 20
    while (polled := api.get(f"/jobs/{job['id']}").json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert polled["status"] == "succeeded", polled
    result = polled["result"]
    assert result["object"] == "chat.completion"
    assert result["modelyard"]["model"] == "deepseek-v4-flash"
    request_id = result["modelyard"]["request_id"]
    assert request_id == accepted.headers["x-modelyard-request-id"]

    stack.poller.drain()
    stack.poller.drain()
    (entry,) = ledger_items(request_id)
    assert entry["status"] == "ok" and str(entry["cost_usd"]) == result["modelyard"]["cost_usd"]


def test_jobs_are_private_to_their_tenant(stack: LocalStack, api: httpx.Client):
    accepted = api.post("/chat/completions", json=BODY, headers={"Prefer": "respond-async"})
    secret, _ = create_key(stack.config, stack.pepper, f"other-{uuid.uuid4().hex[:6]}")
    other = api.get(f"/jobs/{accepted.json()['id']}", headers={"authorization": f"Bearer {secret}"})
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "job_not_found"
    assert api.get("/jobs/job_nope").status_code == 404


def test_streaming_cannot_be_asynchronous(api: httpx.Client):
    refused = api.post(
        "/chat/completions",
        json={**BODY, "stream": True},
        headers={"Prefer": "respond-async"},
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "stream"


def test_without_a_state_machine_jobs_are_a_clear_400(stack: LocalStack, key: KeyRecord):
    plan, _ = asyncio.run(stack.app.state.gateway().plan(BODY, key))
    with pytest.raises(AsyncNotConfigured, match="MODELYARD_STATE_MACHINE_ARN") as refused:
        JobService(USAGE_TABLE, None, aws.client).start(plan, BODY, key, "req_x")
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        ("respond-async", True),
        ("wait=10, Respond-Async", True),
        ("return=minimal", False),
        (None, False),
    ],
)
def test_prefer_header(header: str | None, wanted: bool):
    assert prefers_async(header) is wanted


def test_a_large_request_with_a_long_answer_ends_and_is_ledgered(stack, sim, fast_jobs, key):
    """180 KB in and a long answer out: the state carries neither, so it stays under Step
    Functions' 256 KiB (a passed limit fails the execution uncaught, the job never ends)."""
    body = {
        "model": "qwen3-32b",
        "max_tokens": 30000,
        "messages": [
            {"role": "user", "content": "word " * 36_000 + "[sim:tokens=30000]"},
        ],
    }
    plan, _ = asyncio.run(stack.app.state.gateway().plan(body, key))
    request_id = f"req_{uuid.uuid4().hex}"
    job_id = fast_jobs.start(plan, body, key, request_id)
    execution = finished(fast_jobs, job_id, timeout=60)
    assert execution["status"] == "SUCCEEDED", execution.get("error")
    job = fast_jobs.get(job_id, key.tenant)
    assert job["status"] == "succeeded"
    assert len(json.dumps(job["result"])) > 100_000, "a long answer, whole"
    stack.poller.drain()
    [entry] = ledger_items(request_id)
    assert entry["status"] == "ok" and entry["output_tokens"] == 30000
