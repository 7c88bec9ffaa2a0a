"""Rate limits per key hold across concurrent requests (one shared counter per minute)."""

from __future__ import annotations

import concurrent.futures
import time

from modelyard.local.stack import LocalStack
from modelyard.routing.planner import RequestFeatures
from tests.security.support import CHAT, client_for


def _not_at_a_minute_boundary(margin: float = 4.0) -> None:
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.1)


def test_requests_per_minute_hold_under_parallel_requests(stack: LocalStack, new_key, sim):
    sim.configure_now(latency="realistic")  # the requests overlap
    created = new_key(rpm=5)
    _not_at_a_minute_boundary()

    def post(_: int) -> tuple[int, str, str | None]:
        with client_for(stack, created["key"]) as client:
            response = client.post("/v1/chat/completions", json=CHAT)
        code = response.json().get("error", {}).get("code") if response.status_code != 200 else ""
        return response.status_code, code, response.headers.get("retry-after")

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(post, range(16)))
    assert sum(1 for status, _, _ in results if status == 200) == 5
    refused = [r for r in results if r[0] == 429]
    assert len(refused) == 11
    assert {code for _, code, _ in refused} == {"rate_limit_exceeded"}
    assert all(1 <= int(retry) <= 60 for _, _, retry in refused if retry)


def test_tokens_per_minute_count_the_real_usage(stack: LocalStack, new_key):
    created = new_key(tpm=60)
    _not_at_a_minute_boundary()
    used, refused = 0, None
    with client_for(stack, created["key"]) as client:
        for _ in range(30):
            response = client.post("/v1/chat/completions", json=CHAT)
            if response.status_code != 200:
                refused = response
                break
            used += response.json()["usage"]["total_tokens"]
    assert refused is not None and refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    # admitted requests' real usage never passed the limit, and the refusal came only once
    # the next request's estimate no longer fitted
    assert 0 < used <= 60


def test_a_request_refused_before_any_upstream_call_gives_its_tokens_back(
    stack: LocalStack, new_key
):
    estimate = RequestFeatures.from_chat(CHAT).estimated_input_tokens + CHAT["max_tokens"]
    created = new_key(tpm=estimate * 5 // 2)  # two requests' worth and a half
    _not_at_a_minute_boundary()
    gateway = stack.app.state.gateway()
    for _ in range(gateway.executor.breaker.threshold):
        gateway.executor.breaker.failure(CHAT["model"])
    try:
        with client_for(stack, created["key"]) as client:
            refused = [client.post("/v1/chat/completions", json=CHAT) for _ in range(3)]
            assert [r.status_code for r in refused] == [503] * 3  # the pinned model's circuit
            gateway.shared_breaker.clear()
            served = client.post("/v1/chat/completions", json=CHAT)
    finally:
        gateway.shared_breaker.clear()
    assert served.status_code == 200, served.text
