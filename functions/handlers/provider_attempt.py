"""One upstream attempt of a durable job, as a Step Functions Task.

Input: `{"job_id": "<job>", "model": "<model id>", "day": "YYYY-MM-DD"}`; the request is read
from the job item and the completion written back into it (modelyard.jobs: the execution's
state never holds either, so it stays far below Step Functions' 256 KiB). Every call, answered
or failed, appends itself to the job's attempts priced as its provider will invoice it
(pricing.invoices: a timeout at its estimate, an error answer at 0). Output: the model
and provider that answered, its usage in the UsageEvent's token fields, its latency and its
exact cost (infra/statemachine/fallback.asl.json reads these names). A failure raises an
error named by the taxonomy (`rate_limited`, `server_error`, ...), which is what the state
machine's Retry `ErrorEquals` and Catch match on; the retry policy lives in the state machine.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Any

from modelyard import aws
from modelyard.jobs import job_body, record_attempt
from modelyard.pricing.invoices import invoice
from modelyard.pricing.prices import format_usd, today
from modelyard.providers.errors import ErrorKind, UpstreamError
from modelyard.providers.registry import adapter_for
from modelyard.resilience.executor import Attempt
from modelyard.routing.planner import RequestFeatures
from modelyard.settings import get_settings
from modelyard.store.config import ConfigRepository

#: one exception class per taxonomy entry: Lambda reports the class name as the error type
ATTEMPT_ERRORS: dict[ErrorKind, type[Exception]] = {
    kind: type(kind.value, (RuntimeError,), {}) for kind in ErrorKind
}

_config: ConfigRepository | None = None


def _catalog() -> Any:
    global _config
    if _config is None:
        _config = ConfigRepository(get_settings().config_table, aws.client("dynamodb"))
    return _config.catalog()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    catalog = _catalog()
    model = catalog.resolve(str(event.get("model", "")))
    if model is None:
        raise ATTEMPT_ERRORS[ErrorKind.NOT_FOUND](f"unknown model {event.get('model')!r}")
    provider = catalog.provider_of(model)
    price = catalog.price(model.id, event.get("day") or today())
    dynamodb, table = aws.client("dynamodb"), get_settings().usage_table
    job_id = str(event["job_id"])
    body = job_body(dynamodb, table, job_id)
    started = time.monotonic()
    try:
        result = asyncio.run(adapter_for(provider.wire).chat(provider, model, body))
    except UpstreamError as exc:
        failed = Attempt(model.id, provider.id, "error", exc.kind.value, _since(started))
        estimate = RequestFeatures.from_chat(body).estimated_input_tokens
        record = invoice(failed, None, model, price, estimate)
        record_attempt(dynamodb, table, job_id, record, message=exc.message)
        raise ATTEMPT_ERRORS[exc.kind](exc.message) from None
    latency_ms = _since(started)
    answered = Attempt(model.id, provider.id, "ok", None, latency_ms)
    record = invoice(answered, (result.usage, False), model, price, 0)
    record_attempt(dynamodb, table, job_id, record, completion=result.body)
    return {
        "model": model.id,
        "provider": provider.id,
        "usage": asdict(result.usage),
        "latency_ms": latency_ms,
        "cost_usd": None if record.cost_usd is None else format_usd(record.cost_usd),
        "price_version": price.version if price else None,
    }


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
