"""Helpers for the security tests."""

from __future__ import annotations

import httpx

from modelyard.local.stack import LocalStack

CHAT = {
    "model": "deepseek-v4-flash",
    "max_tokens": 8,
    "messages": [{"role": "user", "content": "hello"}],
}


def root_url(stack: LocalStack) -> str:
    return str(stack.base_url).removesuffix("/v1")  # type: ignore[attr-defined]


def client_for(stack: LocalStack, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=root_url(stack), headers={"authorization": f"Bearer {secret}"}, timeout=30
    )
