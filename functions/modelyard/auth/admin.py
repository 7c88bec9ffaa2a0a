"""Creating keys: used by the admin API, the CLI and the local stack."""

from __future__ import annotations

import time

from modelyard.auth.budgets import Budget
from modelyard.auth.keys import KeyRecord, hash_key, new_key_id, new_secret
from modelyard.store.config import ConfigRepository


def create_key(
    config: ConfigRepository,
    pepper: str,
    tenant: str,
    *,
    name: str = "",
    allowed_models: tuple[str, ...] = (),
    admin: bool = False,
    secret: str | None = None,
    budget: Budget | None = None,
) -> tuple[str, KeyRecord]:
    """Store a new key and return its secret (shown once) and record.

    `secret` is for fixed local keys only; everything else gets a random one.
    """
    secret = secret or new_secret()
    record = KeyRecord(
        key_id=new_key_id(),
        tenant=tenant,
        key_hash=hash_key(secret, pepper),
        name=name,
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        admin=admin,
        allowed_models=allowed_models,
        budget=budget,
    )
    config.put_key(record)
    return secret, record
