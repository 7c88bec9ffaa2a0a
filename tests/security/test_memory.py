"""Memory: no request, and no upstream answer, grows the process without bound.

Each case measures the process's peak resident set while it runs (Linux's VmHWM, reset
through /proc/self/clear_refs) against what it was before, and prints it (`pytest -s`). The
upstreams here are loopback servers that answer a gigabyte (tests/security/loopback.py); a
call to one is measured in a fresh interpreter, where nothing else allocates meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from modelyard.catalog import Capabilities, Model, Provider
from modelyard.local.stack import LocalStack
from modelyard.providers.errors import ErrorKind, UpstreamError
from modelyard.providers.fetch import FetchPolicy, fetch
from modelyard.providers.openai_compat import MAX_RESPONSE_BYTES, OpenAICompatAdapter
from tests.security.loopback import (
    PUBLIC_IP,
    Canary,
    LoopbackAsPublic,
    peak_rss_growth_bytes,
    peak_rss_growth_in_child,
    public_server,
)
from tests.security.support import client_for

MIB = 1024 * 1024
#: what the interpreter may add around a case (allocator slack, a parsed megabyte body)
SLACK = 48 * MIB


def _report(case: str, grown: int) -> None:
    print(f"\nmemory: {case}: peak RSS +{grown / MIB:.1f} MiB")


MODEL = Model("m", "loop", "m", "chat", 128000, 4096, Capabilities(), 100, 50)


@pytest.fixture(scope="module")
def gigabyte_server() -> Iterator[int]:
    canary = Canary()
    with public_server(canary.port) as port:
        yield port
    canary.close()


@pytest.mark.parametrize("inputs", [5_000, 200_000])
def test_too_many_embedding_inputs_are_refused_quickly_and_hold_nothing(
    stack: LocalStack, api: httpx.Client, inputs: int
) -> None:
    body = {"model": "text-embedding-3-small", "input": ["a"] * inputs}
    outcome: dict[str, httpx.Response] = {}
    started = time.monotonic()
    grown = peak_rss_growth_bytes(lambda: outcome.update(r=api.post("/embeddings", json=body)))
    assert time.monotonic() - started < 5
    assert outcome["r"].status_code == 400, outcome["r"].text
    assert "2048" in outcome["r"].json()["error"]["message"]
    _report(f"{inputs} embedding inputs", grown)
    assert grown < SLACK, f"{grown / MIB:.0f} MiB"


def test_embedding_tokens_are_charged_to_the_key_before_the_call(stack, new_key) -> None:
    """2,048 inputs of ~13 tokens: over the key's 10,000 tokens a minute, refused up front."""
    created = new_key(tpm=10_000)
    body = {"model": "text-embedding-3-small", "input": ["word " * 10] * 2048}
    with client_for(stack, created["key"]) as client:
        refused = client.post("/v1/embeddings", json=body)
        assert refused.status_code == 429, refused.text
        small = client.post("/v1/embeddings", json={**body, "input": ["word"] * 10})
    assert small.status_code == 200, small.text


def test_over_the_token_limit_is_refused() -> None:
    from modelyard.api.compat import MAX_EMBEDDING_TOKENS, EmbeddingsRequest
    from modelyard.api.deps import validated
    from modelyard.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match=str(MAX_EMBEDDING_TOKENS)):
        validated(EmbeddingsRequest, {"model": "e", "input": ["x" * 4000] * 301})
    assert validated(EmbeddingsRequest, {"model": "e", "input": ["x" * 4000] * 299})


def answer_from(port: int) -> tuple[ErrorKind, str]:
    """What the adapter raises for a chat call to the gigabyte server on `port`."""

    async def call() -> None:
        provider = Provider("loop", "loopback", "openai", f"http://127.0.0.1:{port}", "")
        await OpenAICompatAdapter().chat(provider, MODEL, {"messages": []})

    try:
        asyncio.run(call())
    except UpstreamError as exc:
        return exc.kind, exc.message
    raise AssertionError("a gigabyte answer was accepted")


def image_from(port: int) -> list[str]:
    """The URLs sent while fetching the gigabyte image (which must fail)."""
    transport = LoopbackAsPublic(port)

    async def run() -> None:
        policy = FetchPolicy(allow_http=True)
        with pytest.raises(UpstreamError):
            await fetch(f"http://{PUBLIC_IP}/huge", policy, 4 * MIB, bool, transport=transport)

    asyncio.run(run())
    return transport.sent


def test_a_gigabyte_upstream_answer_fails_cleanly_within_the_cap(gigabyte_server: int) -> None:
    grown, (kind, message) = peak_rss_growth_in_child(answer_from, gigabyte_server)
    assert kind is ErrorKind.MALFORMED_RESPONSE and "over" in message
    _report("a gigabyte upstream answer", grown)
    assert grown < MAX_RESPONSE_BYTES + SLACK, f"{grown / MIB:.0f} MiB"


def test_a_gigabyte_image_fails_cleanly_within_its_cap(gigabyte_server: int) -> None:
    grown, sent = peak_rss_growth_in_child(image_from, gigabyte_server)
    assert sent == [f"http://{PUBLIC_IP}/huge"]
    _report("a gigabyte image", grown)
    assert grown < 4 * MIB + SLACK, f"{grown / MIB:.0f} MiB"
