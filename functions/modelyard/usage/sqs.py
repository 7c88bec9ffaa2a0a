"""SQS `SendMessageBatch` on the event loop: SQS's JSON protocol over the loop's pooled httpx
client, signed by botocore's SigV4 signer.

Why not the boto3 client's call: it blocks, so the publisher ran it in a worker thread, and
under concurrency the hand-offs between that thread and the event loop cost the router about
1 ms of CPU a request, against about 0.3 ms on the loop (`make bench`, HTTP rows "CPU per
request"). boto3 still does what it is good at: the endpoint (`AWS_ENDPOINT_URL_SQS`, FIPS,
partitions), the region and the credential chain, resolved once.

A call that timed out may have been taken all the same; its retry then queues the events
twice, which the aggregator absorbs (one ledger item per request id).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

import httpx

from modelyard.providers.http import http_client

#: attempts in all, as botocore's standard retry mode makes them
ATTEMPTS = 3
BACKOFF_SECONDS = 0.05
TIMEOUT = httpx.Timeout(connect=2.0, read=5.0, write=5.0, pool=2.0)
TARGET = "AmazonSQS.SendMessageBatch"
CONTENT_TYPE = "application/x-amz-json-1.0"


class SqsError(Exception):
    """SQS refused the call, or could not be reached (after the retries)."""


def _retryable(status: int, body: bytes) -> bool:
    """Server errors and throttling (`ThrottlingException`, `RequestThrottled`): as botocore."""
    return status >= 500 or status == 429 or b"Throttl" in body


class SqsBatchSender:
    def __init__(self, queue_url: str, clients: Callable[[str], Any]) -> None:
        """`clients(service)` returns a boto3 client: its configuration says where and how to
        sign (the client itself sends nothing)."""
        self.queue_url = queue_url
        self.clients = clients
        self._target: tuple[str, str, Any] | None = None

    def _endpoint(self) -> tuple[str, str, Any]:
        """(endpoint URL, region, credentials), resolved on first use."""
        if self._target is None:
            import boto3

            meta = self.clients("sqs").meta
            credentials = boto3.Session().get_credentials()
            if credentials is None:
                raise SqsError("no AWS credentials to sign SendMessageBatch with")
            self._target = (meta.endpoint_url.rstrip("/") + "/", meta.region_name, credentials)
        return self._target

    def _signed(self, body: bytes) -> tuple[str, dict[str, str]]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        url, region, credentials = self._endpoint()
        request = AWSRequest(
            "POST", url, data=body, headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET}
        )
        SigV4Auth(credentials.get_frozen_credentials(), "sqs", region).add_auth(request)
        return url, dict(request.headers.items())

    async def send(self, bodies: list[str]) -> set[int]:
        """Send up to ten message bodies; returns the positions SQS did not take (its `Failed`
        entries). Raises `SqsError` when the call itself failed, after the retries."""
        body = json.dumps(
            {
                "QueueUrl": self.queue_url,
                "Entries": [{"Id": str(i), "MessageBody": text} for i, text in enumerate(bodies)],
            },
            separators=(",", ":"),
        ).encode()
        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(random.uniform(0, BACKOFF_SECONDS * 2**attempt))
            url, headers = self._signed(body)  # signed per attempt: the date is part of it
            try:
                response = await http_client().post(
                    url, content=body, headers=headers, timeout=TIMEOUT
                )
            except httpx.HTTPError as exc:
                problem = f"SQS unreachable ({type(exc).__name__})"
                continue
            if response.status_code == 200:
                failed = response.json().get("Failed") or []
                return {int(entry["Id"]) for entry in failed}
            problem = f"SQS answered {response.status_code}: {response.content[:300]!r}"
            if not _retryable(response.status_code, response.content):
                break
        raise SqsError(problem)
