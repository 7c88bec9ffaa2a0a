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


@cache
def client(service: str) -> Any:
    with _lock:  # boto3's default session is not thread-safe while it creates clients
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=2,
            read_timeout=5,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
        )
        make: Any = boto3.client  # the stubs only type literal service names
        return make(service, config=config)


def reset_clients() -> None:
    """Forget every client (tests that start a new mock, or a changed endpoint)."""
    client.cache_clear()
