"""API keys: generation, hashing, and the record a key resolves to.

Only HMAC-SHA256(pepper, secret) is stored, as the partition key of the key's item, so a
lookup is one GetItem with no index and no eventual consistency. The pepper lives in Secrets
Manager on AWS; a stolen table alone cannot be brute-forced offline.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from modelyard.auth.budgets import Budget

if TYPE_CHECKING:
    from modelyard.catalog import Catalog

KEY_PREFIX = "sk-my-"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    tenant: str
    key_hash: str
    name: str = ""
    created_at: str = ""
    revoked: bool = False
    admin: bool = False
    #: model ids the key may use; empty means every model
    allowed_models: tuple[str, ...] = field(default_factory=tuple)
    budget: Budget | None = None
    #: response cache: "allow" (deterministic requests and those that ask), "always",
    #: "request" (only those that ask) or "off" (see modelyard.cache.policy)
    cache: str = "allow"

    #: provider ids the key may use; empty means every provider
    allowed_providers: tuple[str, ...] = field(default_factory=tuple)
    #: requests and tokens per minute (None: unlimited), shared by every router instance
    rpm: int | None = None
    tpm: int | None = None
    #: epoch seconds after which the key no longer authenticates (None: never)
    expires_at: int | None = None

    def allows(self, model_id: str) -> bool:
        return not self.allowed_models or model_id in self.allowed_models

    def model_filter(self, catalog: Catalog) -> Callable[[str], bool]:
        """The planner's `allowed`: the key's model list and, when set, its provider list."""
        if not self.allowed_providers:
            return self.allows
        providers = self.allowed_providers

        def allowed(model_id: str) -> bool:
            model = catalog.models.get(model_id)
            return self.allows(model_id) and model is not None and model.provider in providers

        return allowed

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now or time.time()) >= self.expires_at


def hash_key(secret: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (or an x-api-key value)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
