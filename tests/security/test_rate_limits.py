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


RATE_HEADERS = [
    f"x-ratelimit-{what}-{unit}"
    for unit in ("requests", "tokens")
    for what in ("limit", "remaining", "reset")
]


def test_every_answer_to_a_limited_key_says_where_its_window_stands(stack: LocalStack, new_key):
    created = new_key(rpm=50, tpm=100_000)
    _not_at_a_minute_boundary()
    stream = {**CHAT, "stream": True}
    messages = {"model": CHAT["model"], "max_tokens": 8, "messages": CHAT["messages"]}
    embedding = {"model": "text-embedding-3-small", "input": "hello"}
    with client_for(stack, created["key"]) as client:
        answers = [client.post("/v1/chat/completions", json=CHAT)]
        with client.stream("POST", "/v1/chat/completions", json=stream) as streamed:
            streamed.read()  # the headers came before the body
            answers.append(streamed)
        answers.append(client.post("/v1/messages", json=messages))
        answers.append(client.post("/v1/embeddings", json=embedding))
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert all(name in answer.headers for name in RATE_HEADERS), answer.headers
        assert answer.headers["x-ratelimit-limit-requests"] == "50"
        assert answer.headers["x-ratelimit-limit-tokens"] == "100000"
        reset = answer.headers["x-ratelimit-reset-requests"]
        assert reset == answer.headers["x-ratelimit-reset-tokens"]
        assert reset.endswith("s") and not reset.startswith("-")
    remaining = [int(a.headers["x-ratelimit-remaining-requests"]) for a in answers]
    assert remaining == [49, 48, 47, 46]  # this request counted, in one window
    tokens = [int(a.headers["x-ratelimit-remaining-tokens"]) for a in answers]
    estimate = RequestFeatures.from_chat(CHAT).estimated_input_tokens + CHAT["max_tokens"]
    assert tokens[0] == 100_000 - estimate  # what admission counted for the first request
    assert all(0 < t < 100_000 for t in tokens)


def test_a_key_without_limits_gets_no_rate_limit_headers(stack: LocalStack, new_key):
    created = new_key()
    with client_for(stack, created["key"]) as client:
        answer = client.post("/v1/chat/completions", json=CHAT)
    assert answer.status_code == 200
    assert not [name for name in answer.headers if name.startswith("x-ratelimit")]


def test_a_refusal_carries_the_window_and_retry_after(stack: LocalStack, new_key):
    created = new_key(rpm=1)
    _not_at_a_minute_boundary()
    with client_for(stack, created["key"]) as client:
        first = client.post("/v1/chat/completions", json=CHAT)
        refused = client.post("/v1/chat/completions", json=CHAT)
    assert first.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-limit-requests"] == "1"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert "x-ratelimit-limit-tokens" not in refused.headers  # the key has no token limit
    retry_after = int(refused.headers["retry-after"])
    reset = refused.headers["x-ratelimit-reset-requests"]
    assert 1 <= retry_after <= 60 and reset.endswith("s")
