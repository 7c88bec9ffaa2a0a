"""Runtime settings, parsed once from the environment (names in CONTRACT.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Settings:
    config_table: str
    usage_table: str
    usage_queue_url: str | None
    state_machine_arn: str | None
    #: Secrets Manager id of the pepper used to hash API keys (deployed); wins over `key_pepper`.
    key_pepper_secret: str | None
    #: Plain pepper for local runs and tests (never set on AWS).
    key_pepper: str
    #: Secrets Manager id of a JSON object {ENV_NAME: credential} with provider keys (deployed).
    provider_secret: str | None
    config_cache_seconds: float
    max_body_bytes: int
    stage: str
    #: the whole request, retries and fallbacks included
    deadline_seconds: float
    #: one non-streaming upstream attempt
    attempt_timeout_seconds: float
    #: a streaming attempt until its first chunk
    first_token_timeout_seconds: float
    #: the response cache (modelyard.cache); off turns it off for every key
    response_cache: bool = True
    #: the reprice state machine (`modelyard prices reprice`; the stack output of that name)
    reprice_state_machine_arn: str | None = None
    #: fetch URLs that requests link to (images, for Bedrock); off leaves only `data:` URLs
    fetch_urls: bool = True
    #: fetch plain `http` links too (never by default)
    fetch_allow_http: bool = False
    #: one whole fetch, redirects included
    fetch_timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        return cls(
            config_table=e.get("MODELYARD_CONFIG_TABLE", "modelyard-config"),
            usage_table=e.get("MODELYARD_USAGE_TABLE", "modelyard-usage"),
            usage_queue_url=e.get("MODELYARD_USAGE_QUEUE_URL") or None,
            state_machine_arn=e.get("MODELYARD_STATE_MACHINE_ARN") or None,
            key_pepper_secret=e.get("MODELYARD_KEY_PEPPER_SECRET_ARN") or None,
            key_pepper=e.get("MODELYARD_KEY_PEPPER", "modelyard-local-pepper"),
            provider_secret=e.get("MODELYARD_PROVIDER_SECRET_ARN") or None,
            config_cache_seconds=float(e.get("MODELYARD_CONFIG_CACHE_SECONDS", "60")),
            max_body_bytes=int(e.get("MODELYARD_MAX_BODY_BYTES", str(1024 * 1024))),
            stage=e.get("MODELYARD_STAGE", "local"),
            deadline_seconds=float(e.get("MODELYARD_DEADLINE_SECONDS", "120")),
            attempt_timeout_seconds=float(e.get("MODELYARD_ATTEMPT_TIMEOUT_SECONDS", "60")),
            first_token_timeout_seconds=float(e.get("MODELYARD_FIRST_TOKEN_TIMEOUT_SECONDS", "20")),
            response_cache=_on(e.get("MODELYARD_RESPONSE_CACHE", "on")),
            reprice_state_machine_arn=e.get("MODELYARD_REPRICE_STATE_MACHINE_ARN") or None,
            fetch_urls=_on(e.get("MODELYARD_FETCH_URLS", "on")),
            fetch_allow_http=_on(e.get("MODELYARD_FETCH_ALLOW_HTTP", "off")),
            fetch_timeout_seconds=float(e.get("MODELYARD_FETCH_TIMEOUT_SECONDS", "10")),
        )


def _on(value: str) -> bool:
    return value.lower() not in {"0", "off", "false", "no"}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (after changing the environment, `get_settings.cache_clear()`)."""
    return Settings.from_env()
