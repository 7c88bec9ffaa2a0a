"""Lazily created, process-wide boto3 clients.

A client is made on first use, never at import: one made before moto starts would talk to real
AWS, and making one costs tens of milliseconds that a cold start should not pay for nothing.
`AWS_ENDPOINT_URL` (boto3's own variable) points them at the embedded moto server locally.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

_lock = threading.Lock()

#: Per-service settings: a model call may take minutes, and the fallback executor, not
#: botocore, decides whether to retry it.
_SERVICE_CONFIG: dict[str, dict[str, Any]] = {
    "bedrock-runtime": {"read_timeout": 300, "retries": {"total_max_attempts": 1}},
}


@cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    """The client for `service`; `endpoint_url` overrides the region's endpoint (and
    `AWS_ENDPOINT_URL`), as a provider's configured base URL does for Bedrock."""
    with _lock:  # boto3's default session is not thread-safe while it creates clients
        import boto3
        from botocore.config import Config

        settings: dict[str, Any] = {
            "connect_timeout": 2,
            "read_timeout": 5,
            "retries": {"max_attempts": 3, "mode": "standard"},
            "max_pool_connections": 32,
        }
        settings.update(_SERVICE_CONFIG.get(service, {}))
        make: Any = boto3.client  # the stubs only type literal service names
        return make(service, config=Config(**settings), endpoint_url=endpoint_url or None)


def reset_clients() -> None:
    """Forget every client (tests that start a new mock, or a changed endpoint)."""
    client.cache_clear()
