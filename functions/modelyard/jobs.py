"""Asynchronous jobs (`Prefer: respond-async`): the durable fallback path.

`JobService.start` writes the job item and starts one execution of the fallback state machine
(infra/statemachine/fallback.asl.json), named after the job so that a retried start cannot
run it twice. The state machine walks the candidates, writes the outcome into the same item and
hands the job's one usage event (`job_event`) to JobUsage, which publishes it or, when SQS
refuses, ledgers it directly; `JobService.get` reads the item back for its tenant.
Under a budget, the router reserves the job's worst-case cost before starting it, and the
usage event carries the reservations, which the aggregator settles as it ledgers the job.

UsageTable item `JOB#<id>` / `JOB`:
  status (running | succeeded | failed), tenant, key_id, request_id, created_at, task,
  route_reason, candidates, body_json (the request), execution_arn, expires_at (TTL);
  written by each upstream call (ProviderAttempt): attempts [AttemptRecord: model, provider,
  status, error_type, message, latency_ms, tokens, cost_usd, usage_estimated], and by the one
  that answers completion_json; by the state machine: status, model, provider, cost_usd,
  finished_at, and the attempts its function could not record itself (it crashed or timed out).

The request and the answer live in the item, never in the execution's state: Step Functions
fails an execution whose state passes 256 KiB (`States.DataLimitExceeded`, which no Catch
sees), and a 200 KB request beside a long answer would; the state carries the job id.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import Any

from modelyard.auth.keys import KeyRecord
from modelyard.errors import GatewayError, InvalidRequest, NotFound, PayloadTooLarge
from modelyard.pricing.invoices import provider_cost
from modelyard.pricing.prices import TokenUsage
from modelyard.routing.planner import RoutePlan
from modelyard.store.budgets import Reservation
from modelyard.store.dynamo import from_item, to_item
from modelyard.usage.events import AttemptRecord, UsageEvent

JOB_SK = "JOB"
JOB_RETENTION_SECONDS = 30 * 24 * 3600
#: how long a job's budget reservation holds if its usage event never settles it: longer than
#: any execution (each attempt ends within ProviderAttempt's 300 s timeout, a few per candidate)
JOB_HOLD_SECONDS = 2 * 3600
#: Step Functions refuses execution input over 256 KiB; leave room for the job's own fields.
MAX_JOB_BODY_BYTES = 200 * 1024
JOB_OBJECT = "chat.completion.job"
_JOB_ID = re.compile(r"^job_[0-9a-f]{32}$")


class AsyncNotConfigured(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "async_not_configured"


def prefers_async(prefer: str | None) -> bool:
    """Whether a `Prefer` header (RFC 7240, possibly several preferences) asks respond-async."""
    return any(
        part.split(";")[0].strip().lower() == "respond-async" for part in (prefer or "").split(",")
    )


def require_jobs(jobs: JobService | None) -> JobService:
    if jobs is None:
        raise AsyncNotConfigured("asynchronous jobs are not available on this gateway")
    return jobs


def new_job_id() -> str:
    return "job_" + uuid.uuid4().hex


def job_key(job_id: str) -> dict[str, Any]:
    return to_item({"pk": f"JOB#{job_id}", "sk": JOB_SK})


class JobService:
    def __init__(self, table: str, state_machine_arn: str | None, clients: Any) -> None:
        """`clients(service)` returns a boto3 client (injected so tests need no patching)."""
        self.table = table
        self.state_machine_arn = state_machine_arn
        self.clients = clients

    @property
    def dynamodb(self) -> Any:
        return self.clients("dynamodb")

    def start(
        self,
        plan: RoutePlan,
        body: dict[str, Any],
        key: KeyRecord,
        request_id: str,
        reservations: Sequence[Reservation] = (),
    ) -> str:
        """Record the job as running and start its execution; returns the job id.
        `reservations`: what the router holds in the job's budgets, settled by its event."""
        if not self.state_machine_arn:
            raise AsyncNotConfigured(
                "asynchronous jobs are not available here: MODELYARD_STATE_MACHINE_ARN is not set"
            )
        if body.get("stream"):
            raise InvalidRequest(
                "'Prefer: respond-async' cannot be combined with 'stream': true", param="stream"
            )
        if len(json.dumps(body, separators=(",", ":")).encode()) > MAX_JOB_BODY_BYTES:
            raise PayloadTooLarge(
                f"an asynchronous job's body may not exceed {MAX_JOB_BODY_BYTES} bytes"
            )
        job_id = new_job_id()
        created_at = datetime.now(UTC)
        candidates = [{"model": c.model.id, "provider": c.provider.id} for c in plan.candidates]
        execution_input = {
            "job_id": job_id,
            "request_id": request_id,
            "tenant": key.tenant,
            "key_id": key.key_id,
            "created_at": created_at.isoformat(),
            "day": created_at.strftime("%Y-%m-%d"),
            "task": plan.task,
            "policy": plan.policy.name if plan.policy else None,
            "candidates": candidates,
            "reservations": [
                {"scope": r.scope, "window": r.window, "amount": str(r.amount)}
                for r in reservations
            ],
        }
        self.dynamodb.put_item(
            TableName=self.table,
            Item={
                **job_key(job_id),
                **to_item(
                    {
                        "status": "running",
                        "tenant": key.tenant,
                        "key_id": key.key_id,
                        "request_id": request_id,
                        "created_at": created_at.isoformat(),
                        "task": plan.task,
                        "route_reason": plan.reason,
                        "candidates": candidates,
                        "body_json": json.dumps(body, separators=(",", ":")),
                        "expires_at": int(time.time() + JOB_RETENTION_SECONDS),
                    }
                ),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        try:
            execution = self.clients("stepfunctions").start_execution(
                stateMachineArn=self.state_machine_arn,
                name=job_id,
                input=json.dumps(execution_input, separators=(",", ":")),
            )
        except Exception as exc:
            self._mark_not_started(job_id, exc)
            raise
        self.dynamodb.update_item(
            TableName=self.table,
            Key=job_key(job_id),
            UpdateExpression="SET execution_arn = :arn",
            ExpressionAttributeValues=to_item({":arn": execution["executionArn"]}),
        )
        return job_id

    def get(self, job_id: str, tenant: str) -> dict[str, Any]:
        """The job as the API shows it; another tenant's job (or none) is 404."""
        if not _JOB_ID.match(job_id):
            raise NotFound(f"no job {job_id!r} for this key's tenant", code="job_not_found")
        response = self.dynamodb.get_item(
            TableName=self.table, Key=job_key(job_id), ConsistentRead=True
        )
        item = from_item(response["Item"]) if "Item" in response else None
        if item is None or item.get("tenant") != tenant:
            raise NotFound(f"no job {job_id!r} for this key's tenant", code="job_not_found")
        return job_view(job_id, item)

    def _mark_not_started(self, job_id: str, exc: Exception) -> None:
        self.dynamodb.update_item(
            TableName=self.table,
            Key=job_key(job_id),
            UpdateExpression="SET #status = :failed, start_error = :error",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item({":failed": "failed", ":error": str(exc)[:1000]}),
        )


def job_body(dynamodb: Any, table: str, job_id: str) -> dict[str, Any]:
    """The request a job was started with (ProviderAttempt reads it from the job item)."""
    item = dynamodb.get_item(
        TableName=table, Key=job_key(job_id), ConsistentRead=True, ProjectionExpression="body_json"
    )["Item"]
    body: dict[str, Any] = json.loads(from_item(item)["body_json"])
    return body


def record_attempt(
    dynamodb: Any,
    table: str,
    job_id: str,
    attempt: AttemptRecord,
    completion: dict[str, Any] | None = None,
    message: str | None = None,
) -> None:
    """One upstream call of the job, priced as its provider invoices it, appended to the job's
    attempts (a retry inside the Attempt state is a call of its own); the answer with it."""
    update = "SET attempts = list_append(if_not_exists(attempts, :none), :attempt)"
    record = attempt.model_dump(exclude_none=True) | ({"message": message} if message else {})
    values: dict[str, Any] = {":none": [], ":attempt": [record]}
    if completion is not None:
        update += ", completion_json = :completion"
        values[":completion"] = json.dumps(completion, separators=(",", ":"))
    dynamodb.update_item(
        TableName=table,
        Key=job_key(job_id),
        UpdateExpression=update,
        ExpressionAttributeValues=to_item(values),
    )


def job_event(state: dict[str, Any], item: dict[str, Any], status: str) -> UsageEvent:
    """The job's one usage event, from the execution's state (who asked, the answering
    attempt's `result`) and the job item (every attempt, each priced): the tenant pays for the
    answer, `provider_cost_usd` is what every attempt will be invoiced."""
    attempts = [AttemptRecord.model_validate(a) for a in item.get("attempts") or []]
    fields: dict[str, Any] = {
        name: state.get(name)
        for name in ("request_id", "tenant", "key_id", "created_at", "day", "task", "policy")
    }
    fields |= {
        "status": status,
        "attempts": attempts,
        "provider_cost_usd": provider_cost(attempts),
        "reservations": state.get("reservations") or [],
    }
    result = state.get("result") if status == "ok" else None
    if result:
        usage = result.get("usage") or {}
        fields |= {f.name: usage.get(f.name, 0) for f in dataclass_fields(TokenUsage)}
        fields |= {
            "model": result["model"],
            "provider": result["provider"],
            "cost_usd": result.get("cost_usd") or 0,
            "price_version": result.get("price_version"),
            "latency_ms": result.get("latency_ms") or 0,
        }
    else:
        last = (state.get("loop") or {}).get("candidate") or {}
        fields |= {"model": last.get("model"), "provider": last.get("provider")}
    return UsageEvent.model_validate(fields)


def job_view(job_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """`GET /v1/jobs/{id}`: status, the completion (with its `modelyard` facts) or the error."""
    status = str(item.get("status", "running"))
    attempts = [_attempt(a) for a in item.get("attempts") or []]
    result = None
    error = None
    if status == "succeeded":
        result = json.loads(item["completion_json"])
        result["modelyard"] = {
            "request_id": item.get("request_id"),
            "job_id": job_id,
            "task": item.get("task"),
            "model": item.get("model"),
            "provider": item.get("provider"),
            "attempts": attempts,
            "cost_usd": item.get("cost_usd"),
            "route_reason": item.get("route_reason"),
        }
    elif status == "failed":
        error = {
            "message": item.get("start_error") or "every upstream attempt failed",
            "type": "upstream_error",
            "param": None,
            "code": "job_not_started" if item.get("start_error") else "all_upstreams_failed",
        }
    return {
        "id": job_id,
        "object": JOB_OBJECT,
        "status": status,
        "created_at": item.get("created_at"),
        "result": result,
        "error": error,
        "attempts": attempts,
    }


def _attempt(record: dict[str, Any]) -> dict[str, Any]:
    """One attempt as stored by the state machine, its Lambda error cause reduced to a message."""
    out = {
        "model": record.get("model"),
        "provider": record.get("provider"),
        "status": record.get("status"),
        "error_type": record.get("error_type"),
    }
    message = record.get("message")
    if message:
        try:
            cause = json.loads(message)
        except ValueError:
            cause = None
        out["message"] = cause.get("errorMessage", message) if isinstance(cause, dict) else message
    return out
