"""Provider credentials: the environment locally, Secrets Manager on AWS (cached, lazily)."""

from __future__ import annotations

import os
from typing import Any

from modelyard.logs import register_secret
from modelyard.settings import get_settings

SECRET_MAX_AGE_SECONDS = 300


def provider_api_key(env_name: str) -> str | None:
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if value:
        return value
    secret_id = get_settings().provider_secret
    if not secret_id:
        return None
    secrets = _provider_secrets(secret_id)
    key = secrets.get(env_name)
    return str(key) if key else None


def _provider_secrets(secret_id: str) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.parameters import get_secret

    value = get_secret(secret_id, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    if not isinstance(value, dict):
        return {}
    for credential in value.values():
        register_secret(str(credential))  # never in a log line, whatever logs it
    return value
