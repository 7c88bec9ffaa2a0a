import random

from modelyard.resilience.breaker import CircuitBreaker
from modelyard.resilience.retry import DEFAULT_RETRY_POLICY, Retrier


def test_backoff_follows_step_functions_semantics():
    retrier = Retrier(
        ("server_error",),
        interval_seconds=1,
        backoff_rate=2,
        max_delay_seconds=3,
        jitter_strategy="NONE",
    )
    assert [retrier.delay(n) for n in (1, 2, 3, 4)] == [1, 2, 3, 3]


def test_full_jitter_stays_within_the_capped_delay():
    retrier = Retrier(("x",), interval_seconds=1, backoff_rate=2, max_delay_seconds=3)
    rng = random.Random(7)
    delays = [retrier.delay(3, rng) for _ in range(200)]
    assert all(0 <= d <= 3 for d in delays) and len(set(delays)) > 100


def test_policy_renders_to_asl_retry_fields():
    asl = DEFAULT_RETRY_POLICY.to_asl()
    assert asl[0]["ErrorEquals"] == ["rate_limited", "overloaded"]
    assert {
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
    } <= set(asl[0])
    assert DEFAULT_RETRY_POLICY.retrier_for("bad_request") is None


def test_breaker_opens_half_opens_and_closes():
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, cool_down=10, clock=lambda: now[0])
    breaker.failure("m")
    assert breaker.allows("m")
    breaker.failure("m")
    assert not breaker.allows("m") and breaker.state("m") == "open"
    now[0] = 11
    assert breaker.state("m") == "half_open" and breaker.allows("m")
    breaker.begin("m")
    assert not breaker.allows("m")  # one trial at a time
    breaker.success("m")
    assert breaker.state("m") == "closed"


def test_the_seeded_default_policy_is_the_one_the_state_machine_renders():
    import json
    from pathlib import Path

    from modelyard.resilience.retry import RetryPolicy

    seed = json.loads((Path(__file__).parents[2] / "infra/seed/retry.json").read_text())
    assert RetryPolicy.from_config(seed["policies"]["*"]) == DEFAULT_RETRY_POLICY


def test_a_model_can_have_its_own_retry_policy():
    from modelyard.cli import _offline_catalog
    from modelyard.routing.planner import RequestFeatures, RouteRequest, plan_route

    catalog = _offline_catalog()
    body = {
        "model": "yi-lightning",
        "messages": [{"role": "user", "content": "hi"}],
        "modelyard": {"fallbacks": ["qwen3-32b"]},
    }
    yi, qwen = plan_route(
        RouteRequest.from_body(body), RequestFeatures.from_chat(body), catalog
    ).candidates
    assert yi.retry is not None and yi.retry.retrier_for("rate_limited").max_attempts == 1
    assert qwen.retry == DEFAULT_RETRY_POLICY
    assert yi.retry.retrier_for("server_error") is None  # only what its own policy lists
