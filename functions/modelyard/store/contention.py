"""DynamoDB's own refusals that a later try clears, and the backoff between tries.

Real DynamoDB cancels a transaction that touches an item another transaction is writing
(`TransactionConflict`), throttles a hot partition (`ThrottlingException`,
`ProvisionedThroughputExceededException`, or the same as a cancellation reason), and now and
then answers 500 or times out. moto does none of these. A usage event is recorded by one
conditional transaction, so trying it again is always safe: if an earlier try did commit
(a timeout after the write), the ledger put's condition fails and the event is a duplicate.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

#: error codes of a whole call that a retry may clear
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
#: cancellation reasons of a transaction that a retry may clear
TRANSIENT_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)


@cache
def _botocore() -> tuple[type[ClientError], tuple[type[Exception], ...]]:
    """botocore's ClientError and its timeouts, imported when a failure is first judged:
    the router's cold start has no use for botocore (its SQS calls do not go through it)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    timeouts = (ReadTimeoutError, ConnectTimeoutError, EndpointConnectionError)
    return ClientError, (*timeouts, ConnectionClosedError)


def transient(exc: BaseException) -> bool:
    """Whether `exc` is DynamoDB (or the network to it) failing, not the request."""
    client_error, timeouts = _botocore()
    if isinstance(exc, timeouts):
        return True
    if not isinstance(exc, client_error):
        return False
    code = exc.response.get("Error", {}).get("Code")
    if code == "TransactionCanceledException":
        return any(reason in TRANSIENT_REASONS for reason in cancellation_reasons(exc))
    return code in TRANSIENT_CODES


def cancellation_reasons(exc: ClientError) -> list[str | None]:
    """The per-item codes of a cancelled transaction, in the order of its items."""
    return [r.get("Code") for r in exc.response.get("CancellationReasons") or []]


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter (AWS's advice for contention): waits up
    to `base * 2**n` seconds, at most `cap`, and gives up after `attempts` waits. One per
    operation (`waited` counts its waits)."""

    attempts: int = 10
    base: float = 0.02
    cap: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    waited: int = 0

    def wait(self, exc: BaseException) -> None:
        """Sleep before the next try, or re-raise `exc` when the tries are used up."""
        if self.waited >= self.attempts:
            raise exc
        self.sleep(self.rng.uniform(0, min(self.cap, self.base * 2**self.waited)))
        self.waited += 1


class Retrying:
    """A boto3 DynamoDB client whose every call is tried again, with a fresh `Backoff`, when
    it fails transiently. Safe for the aggregator's writes because each is conditional (a
    ledger claim, a seal written if absent, a chunk applied under its progress guard): a retry
    of a write that did commit fails its condition and is read as done."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            backoff = Backoff()
            while True:
                try:
                    return method(*args, **kwargs)
                except Exception as exc:
                    if not transient(exc):
                        raise
                    backoff.wait(exc)

        return call
