"""Managing keys and tenants: used by the admin API, the CLI and the local stack.

A secret leaves this module once, when a key is created or rotated; what lists and reports
show of a key (`key_view`) carries neither the secret nor its hash.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from modelyard.auth.budgets import Budget
from modelyard.auth.keys import KeyRecord, hash_key, new_key_id, new_secret
from modelyard.pricing.prices import format_usd
from modelyard.store.config import ConfigRepository

#: tenant names are parts of item keys (`TENANT#<t>`): no `#`, no spaces, bounded
TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
KEY_ID_PATTERN = r"^key_[0-9a-f]{16}$"
#: the tenant that admin keys made by `modelyard admin-keys` belong to
ADMIN_TENANT = "admin"
#: an admin secret chosen by hand (`MODELYARD_ADMIN_KEY`) needs this many characters, and this
#: many different ones (a generated key has 43 and ~30): "a" or "admin-admin-admin" are refused
MIN_ADMIN_SECRET_CHARS = 32
MIN_ADMIN_SECRET_DISTINCT = 16


def check_admin_secret(secret: str) -> None:
    """`ValueError` for an admin secret that could be guessed."""
    if len(secret) < MIN_ADMIN_SECRET_CHARS or len(set(secret)) < MIN_ADMIN_SECRET_DISTINCT:
        raise ValueError(
            f"weak admin key: an admin key needs at least {MIN_ADMIN_SECRET_CHARS} characters, "
            f"{MIN_ADMIN_SECRET_DISTINCT} of them different (leave MODELYARD_ADMIN_KEY unset to "
            "have one generated)"
        )


def create_key(
    config: ConfigRepository,
    pepper: str,
    tenant: str,
    *,
    name: str = "",
    allowed_models: tuple[str, ...] = (),
    allowed_providers: tuple[str, ...] = (),
    admin: bool = False,
    secret: str | None = None,
    budget: Budget | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    expires_at: int | None = None,
) -> tuple[str, KeyRecord]:
    """Store a new key and return its secret (shown once) and record.

    `secret` is for fixed local keys only (an admin one must pass `check_admin_secret`);
    everything else gets a random one.
    """
    if admin and secret is not None:
        check_admin_secret(secret)
    secret = secret or new_secret()
    record = KeyRecord(
        key_id=new_key_id(),
        tenant=tenant,
        key_hash=hash_key(secret, pepper),
        name=name,
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        admin=admin,
        allowed_models=allowed_models,
        allowed_providers=allowed_providers,
        budget=budget,
        rpm=rpm,
        tpm=tpm,
        expires_at=expires_at,
    )
    config.put_key(record)
    return secret, record


def rotate_key(config: ConfigRepository, pepper: str, key_id: str) -> tuple[str, KeyRecord] | None:
    """A new secret for the key (same id, limits, budgets and usage); the old one is revoked
    at once. None when there is no such live key."""
    secret = new_secret()
    record = config.rotate_key(key_id, hash_key(secret, pepper))
    return None if record is None else (secret, record)


def key_view(record: KeyRecord) -> dict[str, Any]:
    """What anyone may see of a key: never the secret, never its hash."""
    return {
        "id": record.key_id,
        "tenant": record.tenant,
        "name": record.name,
        "created_at": record.created_at,
        "revoked": record.revoked,
        "admin": record.admin,
        "models": list(record.allowed_models),
        "providers": list(record.allowed_providers),
        **budget_view(record.budget),
        "rpm": record.rpm,
        "tpm": record.tpm,
        "expires_at": None
        if record.expires_at is None
        else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.expires_at)),
    }


def budget_view(budget: Budget | None) -> dict[str, Any]:
    """A budget as the admin API and the CLI show it (amounts as decimal strings)."""
    return {
        "daily_budget_usd": _usd(budget.daily_usd if budget else None),
        "monthly_budget_usd": _usd(budget.monthly_usd if budget else None),
        "budget_mode": ("hard" if budget.hard else "soft") if budget else None,
    }


def _usd(value: Decimal | None) -> str | None:
    return None if value is None else format_usd(value)
