"""Fixtures for the security tests: keys of their own tenants, made through the admin API."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from modelyard.local.stack import LocalStack
from tests.security.support import client_for


@pytest.fixture
def admin(stack: LocalStack) -> Iterator[httpx.Client]:
    with client_for(stack, stack.admin_key) as client:
        yield client


@pytest.fixture
def new_key(admin: httpx.Client) -> Callable[..., dict[str, Any]]:
    """Creates a key through `POST /admin/keys` (a fresh tenant unless one is given)."""

    def make(tenant: str | None = None, **spec: Any) -> dict[str, Any]:
        tenant = tenant or f"t-{uuid.uuid4().hex[:10]}"
        response = admin.post("/admin/keys", json={"tenant": tenant, **spec})
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make
