"""Shared fixtures: a local stack (moto server, simulated upstreams, the gateway on uvicorn).

The stack changes `os.environ` (boto3 reads its endpoint there); the fixture puts the
environment back afterwards so the template tests' in-process moto sees a clean one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelyard import aws
from modelyard.local.stack import LocalStack
from modelyard.settings import get_settings
from tests import helpers


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    saved = dict(os.environ)
    # short upstream timeouts so that injected hangs cost the suite little time
    os.environ["MODELYARD_ATTEMPT_TIMEOUT_SECONDS"] = "1"
    os.environ["MODELYARD_FIRST_TOKEN_TIMEOUT_SECONDS"] = "1"
    local = LocalStack(sim_latency="zero", sim_faults="").start(poll=False)
    local.base_url = local.serve_gateway()  # type: ignore[attr-defined]
    helpers.use_poller(local.poller)
    try:
        yield local
    finally:
        local.stop()
        os.environ.clear()
        os.environ.update(saved)
        aws.reset_clients()
        get_settings.cache_clear()


@pytest.fixture
def sim(stack: LocalStack) -> Iterator[Any]:
    """The stack's simulator, reset to no faults and zero latency after each test."""
    yield stack.simulator
    stack.simulator.configure_now(faults="", latency="zero")
    stack.app.state.gateway().shared_breaker.clear()


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=stack.base_url,  # type: ignore[attr-defined]
        headers={"authorization": f"Bearer {stack.api_key}"},
        timeout=30,
    ) as client:
        yield client
