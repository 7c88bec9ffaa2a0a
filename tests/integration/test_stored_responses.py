"""Stored responses under DynamoDB's real failures (tests/faults.py): throttling, 500s and
timeouts, before and after the write, which moto never produces."""

from __future__ import annotations

import uuid

from modelyard import aws
from modelyard.local.stack import USAGE_TABLE, LocalStack
from modelyard.store.stored_responses import StoredResponse, StoredResponses
from tests.faults import FaultyDynamoDB

KINDS = ("throttle", "throughput", "500", "timeout", "timeout_after")


def test_responses_are_kept_and_read_through_transient_refusals(stack: LocalStack) -> None:
    faulty = FaultyDynamoDB(aws.client("dynamodb"), rate=0.5, kinds=KINDS)
    store = StoredResponses(USAGE_TABLE, faulty)
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    for n in range(20):
        response = {"id": f"resp_{n}", "object": "response", "output": []}
        items = [{"type": "message", "role": "user", "content": f"turn {n}"}]
        assert store.put(tenant, StoredResponse(response, items, items))
    assert sum(faulty.counts.values()) >= 5  # refusals were injected, and outwaited
    for n in range(20):
        kept = store.get(tenant, f"resp_{n}")
        assert kept is not None and kept.input_items[0]["content"] == f"turn {n}"
    assert store.get("another-tenant", "resp_0") is None
