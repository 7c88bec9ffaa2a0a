"""`Idempotency-Key` on chat completions, on Powertools' idempotency records in UsageTable.

The first request with a key runs and its response is stored (one hour); a repeat with the
same key and body gets the stored response without calling an upstream or being billed again;
the same key with a different body is a 400; a repeat while the first is still running is a
409. Keys are scoped by tenant, so two tenants may use the same key. A stream is stored as
the SSE it sent once it completes (api.idempotent), and replayed as such.
"""

from __future__ import annotations

import asyncio
from typing import Any

from modelyard.errors import GatewayError, InvalidRequest
from modelyard.store.schema import TTL_ATTRIBUTE

RECORD_SECONDS = 3600
#: how long a crashed first attempt blocks its key (the router's longest request)
IN_PROGRESS_MILLIS = 900_000
MAX_KEY_LENGTH = 256


class IdempotencyConflict(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "idempotent_request_in_progress"


Result = dict[str, Any]


class IdempotencyGuard:
    def __init__(self, table: str, client: Any, ttl_seconds: int = RECORD_SECONDS) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
        )

        self.persistence = DynamoDBPersistenceLayer(
            table_name=table,
            key_attr="pk",
            sort_key_attr="sk",
            static_pk_value="IDEMPOTENCY#chat",
            expiry_attr=TTL_ATTRIBUTE,
            boto3_client=client,
        )
        self.persistence.configure(
            IdempotencyConfig(
                event_key_jmespath="[tenant, key]",
                payload_validation_jmespath="body",
                expires_after_seconds=ttl_seconds,
            ),
            function_name="chat",
        )

    async def begin(self, tenant: str, key: str, body: dict[str, Any]) -> Result | None:
        """Claim the key for this request (None: run it), or the stored result of a completed
        first request; 409 while that one is in flight, 400 for another body."""
        from aws_lambda_powertools.utilities.idempotency import exceptions as errors

        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidRequest(
                "Idempotency-Key must be 1 to 256 characters", param="Idempotency-Key"
            )
        data = _data(tenant, key, body)
        try:
            try:
                await asyncio.to_thread(self.persistence.save_inprogress, data, IN_PROGRESS_MILLIS)
            except errors.IdempotencyItemAlreadyExistsError:
                try:  # get_record also checks that the body is the first request's
                    record = await asyncio.to_thread(self.persistence.get_record, data)
                except errors.IdempotencyItemNotFoundError:
                    record = None
                if record is not None and record.status == "COMPLETED":
                    return record.response_json_as_dict() or {}
                raise IdempotencyConflict(
                    "a request with this Idempotency-Key is still in progress"
                ) from None
        except errors.IdempotencyValidationError:
            raise InvalidRequest(
                "this Idempotency-Key was used with a different request body",
                param="Idempotency-Key",
                code="idempotency_key_reused",
            ) from None
        return None

    async def complete(self, tenant: str, key: str, body: dict[str, Any], result: Result) -> None:
        """Store the first request's result for its repeats."""
        await asyncio.to_thread(self.persistence.save_success, _data(tenant, key, body), result)

    async def abandon(
        self, tenant: str, key: str, body: dict[str, Any], exc: Exception | None = None
    ) -> None:
        """Free the key: the first request ended without a result to replay."""
        error = exc or RuntimeError("the first request ended without an answer")
        await asyncio.to_thread(self.persistence.delete_record, _data(tenant, key, body), error)


def _data(tenant: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"tenant": tenant, "key": key, "body": body}
