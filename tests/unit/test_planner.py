from decimal import Decimal

import pytest

from modelyard.cli import _offline_catalog
from modelyard.errors import InvalidRequest, NotFound, PermissionDenied
from modelyard.routing.planner import RequestFeatures, RouteRequest, plan_route

CATALOG = _offline_catalog()


def plan(body, **kwargs):
    body = {"messages": [{"role": "user", "content": "hello"}], **body}
    return plan_route(
        RouteRequest.from_body(body), RequestFeatures.from_chat(body), CATALOG, **kwargs
    )


def test_explicit_model_resolves_aliases_and_provider_prefixes():
    for name in (
        "deepseek-v4-flash",
        "deepseek/deepseek-v4-flash",
        "deepseek-ai/DeepSeek-V4-Flash",
    ):
        assert plan({"model": name}).candidates[0].model.id == "deepseek-v4-flash"


def test_unknown_model_is_not_found():
    with pytest.raises(NotFound):
        plan({"model": "gpt-9"})
    with pytest.raises(NotFound):
        plan({"model": "auto:cheapest"})


def test_key_allow_list_is_enforced():
    with pytest.raises(PermissionDenied):
        plan({"model": "gpt-4o"}, allowed=lambda m: m == "qwen3-32b")
    auto = plan({"model": "auto"}, allowed=lambda m: m == "qwen3-32b")
    assert [c.model.id for c in auto.candidates] == ["qwen3-32b"]


def test_tools_are_never_sent_to_a_model_without_tool_calling():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    result = plan({"model": "auto:cost", "tools": tools, "modelyard": {"task": "chat"}})
    assert "yi-lightning" not in [c.model.id for c in result.candidates]
    assert result.rejected["yi-lightning"] == "no tool calling"
    with pytest.raises(InvalidRequest):
        plan({"model": "yi-lightning", "tools": tools})


def test_context_window_excludes_small_models():
    long = "word " * 80_000  # ~100k tokens
    result = plan(
        {
            "model": "auto",
            "messages": [{"role": "user", "content": long}],
            "modelyard": {"task": "summarization"},
        }
    )
    assert "yi-lightning" not in [c.model.id for c in result.candidates]
    assert "window" in result.rejected["yi-lightning"]


def test_vision_requires_an_image_capable_model():
    content = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    result = plan(
        {
            "model": "auto",
            "messages": [{"role": "user", "content": content}],
            "modelyard": {"task": "chat"},
        }
    )
    assert all(c.model.capabilities.vision for c in result.candidates)
    assert result.rejected["deepseek-v4-flash"] == "no image input"


def test_policies_trade_quality_for_cost():
    coding = {
        "messages": [{"role": "user", "content": "fix my function"}],
        "modelyard": {"task": "coding"},
    }
    assert plan({"model": "auto:quality", **coding}).candidates[0].model.id == "claude-4-sonnet"
    cheap = plan({"model": "auto:cost", **coding}).candidates[0]
    assert cheap.model.id == "deepseek-v4-flash"  # quality 9.2 at a fraction of the price


def test_max_cost_is_a_hard_limit():
    result = plan(
        {
            "model": "auto:quality",
            "max_tokens": 1000,
            "modelyard": {"task": "coding", "max_cost_usd": 0.001},
        }
    )
    assert all(c.estimated_cost_usd <= Decimal("0.001") for c in result.candidates)
    assert "claude-4-sonnet" in result.rejected


def test_open_circuit_removes_a_model_from_auto_routes():
    result = plan(
        {"model": "auto", "modelyard": {"task": "coding"}},
        healthy=lambda m: m != "deepseek-v4-flash",
    )
    assert "deepseek-v4-flash" not in [c.model.id for c in result.candidates]
    assert result.rejected["deepseek-v4-flash"] == "circuit open"


def test_explicit_fallbacks_follow_the_requested_model_in_order():
    result = plan({"model": "gpt-4o", "modelyard": {"fallbacks": ["qwen3-32b", "kimi-k2.5"]}})
    assert [c.model.id for c in result.candidates] == ["gpt-4o", "qwen3-32b", "kimi-k2.5"]


def test_explanation_lists_candidates_and_rejections():
    explained = plan({"model": "auto:speed", "modelyard": {"task": "chat"}}).explain()
    assert explained["choice"] == explained["candidates"][0]["model"]
    assert explained["policy"] == "speed"
    assert explained["reason"].startswith("speed")


def test_observed_errors_and_latency_move_the_ranking():
    from modelyard.catalog import ModelHealth

    body = {"model": "auto", "modelyard": {"task": "coding"}}
    assert plan(body).candidates[0].model.id == "deepseek-v4-flash"
    flaky = {"deepseek-v4-flash": ModelHealth(attempts=100, errors=60, ttft_ms=420.0)}
    ranked = plan(body, health=flaky)
    assert ranked.candidates[0].model.id != "deepseek-v4-flash"
    assert ranked.explain()["candidates"][-1]["error_rate"] >= 0
    slow = {"deepseek-v4-flash": ModelHealth(attempts=100, errors=0, ttft_ms=9000.0)}
    speed = plan({"model": "auto:speed", "modelyard": {"task": "coding"}}, health=slow)
    assert speed.candidates[0].model.id != "deepseek-v4-flash"


def test_route_reason_states_the_expected_first_token_not_a_512_token_answer():
    from modelyard.catalog import ModelHealth

    body = {"model": "auto", "modelyard": {"task": "coding"}}
    seeded = plan(body)
    assert seeded.candidates[0].model.id == "deepseek-v4-flash"  # seed: 420 ms, 60 tokens/s
    assert seeded.reason.endswith("first token ~420 ms")
    assert "8953" not in seeded.reason  # 420 ms + 512 tokens at 60/s, the old figure
    observed = {"deepseek-v4-flash": ModelHealth(attempts=50, errors=0, ttft_ms=812.4)}
    assert plan(body, health=observed).reason.endswith("first token ~812 ms")
    assert seeded.explain()["candidates"][0]["expected_ttft_ms"] == 420


def test_a_parameter_only_some_formats_honour_skips_the_others_and_says_so():
    result = plan({"model": "auto", "n": 2, "modelyard": {"task": "chat"}})
    served = {c.model.id for c in result.candidates}
    assert "gpt-4o" in served and "gemini-2.5-flash" in served  # openai and gemini: n
    assert {"claude-4-sonnet", "bedrock-claude-sonnet-4"}.isdisjoint(served)
    assert result.rejected["claude-4-sonnet"] == "cannot honour n > 1"
    assert "skipped claude-4-sonnet (cannot honour n > 1)" in result.reason
    assert result.explain()["constraints"]["parameters"] == ["n > 1"]
    assert "skipped" not in plan({"model": "auto", "n": 1}).reason


@pytest.mark.parametrize(
    ("body", "param", "label"),
    [
        ({"n": 3}, "n", "n > 1"),
        ({"logprobs": True}, "logprobs", "logprobs"),
        ({"top_logprobs": 2}, "top_logprobs", "top_logprobs"),
    ],
)
def test_a_pinned_model_that_cannot_honour_a_parameter_is_a_400_naming_both(body, param, label):
    with pytest.raises(InvalidRequest) as caught:
        plan({"model": "claude-4-sonnet", **body})
    assert caught.value.param == param and caught.value.code == "unsupported_parameter"
    assert f"model claude-4-sonnet cannot honour {label}" in caught.value.message
    fallback = plan({"model": "claude-4-sonnet", **body, "modelyard": {"fallbacks": ["gpt-4o"]}})
    assert [c.model.id for c in fallback.candidates] == ["gpt-4o"]
    why = f"cannot honour {label}"
    assert fallback.reason == f"claude-4-sonnet unavailable ({why}); fallback gpt-4o"


def test_translated_parameters_stay_with_the_formats_that_honour_them():
    for model in ("claude-4-sonnet", "gemini-2.5-flash"):
        assert plan({"model": model, "reasoning_effort": "high"}).candidates[0].model.id == model
    # the wire takes an effort, but not every model of it: gpt-4o refuses one upstream
    for model in ("gpt-4o", "deepseek-v4-flash"):
        with pytest.raises(InvalidRequest) as no_reasoning:
            plan({"model": model, "reasoning_effort": "high"})
        assert no_reasoning.value.param == "reasoning_effort"
    routed = plan({"model": "auto", "reasoning_effort": "low", "modelyard": {"task": "chat"}})
    assert {c.model.id for c in routed.candidates} == {"claude-4-sonnet", "gemini-2.5-flash"}
    for model in ("claude-4-sonnet", "gemini-2.5-flash"):
        assert plan({"model": model, "top_k": 40}).candidates[0].model.id == model
    with pytest.raises(InvalidRequest) as caught:
        plan({"model": "deepseek-v4-flash", "top_k": 40})
    assert caught.value.param == "top_k"
    with pytest.raises(InvalidRequest) as bedrock:
        plan({"model": "bedrock-claude-sonnet-4", "reasoning_effort": "low"})
    assert bedrock.value.param == "reasoning_effort"


def test_server_tools_route_only_to_anthropic_and_name_the_tool_otherwise():
    search = [{"type": "web_search_20250305", "name": "web_search"}]
    body = {"modelyard_anthropic": {"server_tools": search}, "modelyard": {"task": "chat"}}
    result = plan({"model": "auto", **body})
    assert [c.model.id for c in result.candidates] == ["claude-4-sonnet"]
    with pytest.raises(InvalidRequest) as caught:
        plan({"model": "auto", **body}, allowed=lambda m: m != "claude-4-sonnet")
    error = caught.value
    assert error.param == "tools" and "server tools (web_search_20250305)" in error.message
    assert error.message.startswith("no model this request may use can honour")
