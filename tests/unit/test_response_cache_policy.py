"""Response cache rules without AWS: the key, the decision, the replay, the aggregates' metrics,
and Anthropic prompt-cache breakpoints kept on their blocks."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from modelyard.cache.policy import decide, request_key
from modelyard.cache.replay import StreamAssembler, replay
from modelyard.catalog import Capabilities, Model
from modelyard.providers.anthropic import openai_request, to_anthropic
from modelyard.usage import metric_names as m
from modelyard.usage.events import UsageEvent
from modelyard.usage.metrics import BatchMetrics

BODY = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


def test_the_key_ignores_delivery_fields_but_not_answer_fields():
    base = request_key("t", BODY)
    delivery = {
        **BODY,
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "u1",
        "metadata": {"a": "b"},
        "modelyard": {"cache": {"max_age": 5}, "hedge": True},
    }
    assert request_key("t", delivery) == base
    assert request_key("other-tenant", BODY) != base
    for change in (
        {"temperature": 0.5},
        {"seed": 1},
        {"max_tokens": 10},
        {"stop": ["x"]},
        {"n": 2},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"response_format": {"type": "json_object"}},
        {"model": "gpt-4o"},
        {"modelyard": {"policy": "cost"}},
        {"some_future_field": 1},
    ):
        assert request_key("t", {**BODY, **change}) != base, change
    assert request_key("t", BODY, header_policy="quality") != base


@pytest.mark.parametrize(
    ("body", "mode", "header", "expected"),
    [
        (BODY, "allow", None, (True, True)),
        ({**BODY, "temperature": 0.7}, "allow", None, None),
        ({**BODY, "temperature": 0.7, "seed": 3}, "allow", None, (True, True)),
        ({**BODY, "temperature": 0.7}, "allow", "max-age=60", (True, True)),
        ({**BODY, "temperature": 0.7}, "always", None, (True, True)),
        (BODY, "request", None, None),
        (BODY, "request", "max-age=60", (True, True)),
        (BODY, "off", "max-age=60", None),
        (BODY, "allow", "no-cache", (False, True)),
        (BODY, "allow", "max-age=0", (False, True)),
        (BODY, "allow", "no-store", (True, False)),
        (BODY, "allow", "No-Cache, No-Store", (False, False)),
        ({**BODY, "modelyard": {"cache": False}}, "allow", "max-age=60", None),
        ({**BODY, "modelyard": {"cache": {"no_store": True}}}, "allow", None, (True, False)),
    ],
)
def test_when_the_cache_applies(body, mode, header, expected):
    decision = decide("t", body, mode, header)
    assert (None if decision is None else (decision.read, decision.write)) == expected


def test_max_age_sets_both_the_accepted_age_and_the_lifetime():
    decision = decide("t", BODY, "allow", "max-age=90")
    assert decision is not None and (decision.max_age, decision.ttl) == (90, 90)


COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "hello there",
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a": 1}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
}


def test_a_replayed_stream_assembles_back_into_the_completion():
    frames = replay(COMPLETION, include_usage=True, meta={"cache": "hit"})
    assert frames[-1] == b"data: [DONE]\n\n"
    chunks = [json.loads(f[6:]) for f in frames[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == COMPLETION["usage"]
    assembler = StreamAssembler()
    for frame in frames[:-2]:
        assembler.feed(frame[6:])
    assert assembler.completion(COMPLETION["usage"]) == COMPLETION


def test_an_unfinished_stream_is_not_assembled():
    assembler = StreamAssembler()
    assembler.feed(replay(COMPLETION, include_usage=False, meta={})[1][6:])
    assert assembler.completion({}) is None


def test_hits_misses_and_savings_are_emf_metrics(capsys):
    metrics = BatchMetrics()
    common = {"tenant": "t", "key_id": "k", "created_at": "2026-01-01T00:00:00+00:00"}
    common |= {"day": "2026-01-01", "status": "ok", "model": "m", "provider": "p"}
    metrics.add(UsageEvent(request_id="r1", cache="miss", cost_usd=Decimal("0.5"), **common))
    metrics.add(UsageEvent(request_id="r2", cache="hit", saved_usd=Decimal("0.5"), **common))
    metrics.flush()
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    service = next(b for b in blobs if "model" not in b and "provider" not in b)
    assert service[m.CACHE_HITS] == [1.0] and service[m.CACHE_MISSES] == [1.0]
    assert service[m.CACHE_SAVED_USD] == [0.5]
    by_model = next(b for b in blobs if "model" in b)
    assert len(by_model[m.LATENCY_MS]) == 1  # a hit's latency is not the model's


MODEL = Model(
    id="claude",
    provider="anthropic",
    upstream="claude-x",
    kind="chat",
    context_window=200_000,
    max_output_tokens=8192,
    capabilities=Capabilities(),
    ttft_ms=500,
    tokens_per_second=50,
)
BREAKPOINT = {"type": "ephemeral"}


def test_a_cached_system_prompt_keeps_its_block_form_upstream():
    body = {
        "model": "claude",
        "messages": [
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": "long rules", "cache_control": BREAKPOINT},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "text", "text": "q", "cache_control": BREAKPOINT}],
            },
        ],
        "response_format": {"type": "json_object"},
    }
    out = to_anthropic(body, MODEL, stream=False)
    assert out["system"][0] == {"type": "text", "text": "long rules", "cache_control": BREAKPOINT}
    assert out["system"][1]["type"] == "text" and "cache_control" not in out["system"][1]
    assert out["messages"][0]["content"][0]["cache_control"] == BREAKPOINT
    plain = {**body, "messages": [{"role": "system", "content": "rules"}, body["messages"][1]]}
    assert isinstance(to_anthropic(plain, MODEL, stream=False)["system"], str)


def test_messages_api_breakpoints_survive_the_round_trip_through_the_gateway():
    inbound = {
        "model": "claude",
        "max_tokens": 10,
        "system": [{"type": "text", "text": "long rules", "cache_control": BREAKPOINT}],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "q", "cache_control": BREAKPOINT}],
            }
        ],
    }
    chat = openai_request(inbound)
    assert chat["messages"][0]["content"][0]["cache_control"] == BREAKPOINT
    upstream = to_anthropic(chat, MODEL, stream=False)
    assert upstream["system"] == inbound["system"]
    assert upstream["messages"] == inbound["messages"]
