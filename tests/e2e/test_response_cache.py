"""The response cache: repeated requests are answered without an upstream call, per tenant,
as HTTP's Cache-Control says, and the ledger shows what each hit saved."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openai import OpenAI

from modelyard import aws, cli
from modelyard.auth.admin import create_key
from modelyard.local.stack import LocalStack
from modelyard.settings import get_settings
from modelyard.store.dynamo import from_item
from modelyard.usage.aggregate import breakdown
from tests.helpers import ledger_items

MODEL = "deepseek-v4-flash"


def body(prompt: str | None = None, **extra: Any) -> dict[str, Any]:
    """A deterministic request (temperature 0) with a prompt no other test sends."""
    content = prompt or f"Name one colour. ({uuid.uuid4().hex})"
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": content}],
        "temperature": 0,
        **extra,
    }


def settle(stack: LocalStack) -> None:
    """Wait for the gateway's background cache writes (they are off the response's path)."""
    writes = stack.app.state.gateway().cache_writes
    deadline = time.monotonic() + 5
    while writes and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not writes, "cache writes did not finish"


def new_client(stack: LocalStack, tenant: str) -> httpx.Client:
    secret, _ = create_key(stack.config, stack.pepper, tenant)
    return httpx.Client(
        base_url=stack.base_url,  # type: ignore[attr-defined]
        headers={"authorization": f"Bearer {secret}"},
        timeout=30,
    )


def post(client: httpx.Client, payload: dict[str, Any], **headers: str) -> httpx.Response:
    response = client.post("/chat/completions", json=payload, headers=headers)
    assert response.status_code == 200, response.text
    return response


def counter(tenant: str, sk: str) -> dict[str, Any]:
    item = aws.client("dynamodb").get_item(
        TableName=get_settings().usage_table,
        Key={"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": sk}},
    )
    return from_item(item.get("Item", {}))


def test_a_repeated_deterministic_request_is_served_from_cache_and_ledgered_as_a_saving(
    stack: LocalStack, sim
):
    tenant = f"cache-{uuid.uuid4().hex[:8]}"
    payload = body()
    with new_client(stack, tenant) as client:
        first = post(client, payload)
        assert first.headers["x-modelyard-cache"] == "miss"
        settle(stack)
        calls = sim.calls[MODEL]
        again = post(client, payload)
    assert sim.calls[MODEL] == calls, "a hit must not reach the upstream"
    assert again.headers["x-modelyard-cache"] == "hit"
    assert again.headers["x-modelyard-cost-usd"] == "0"
    assert again.headers["x-modelyard-attempts"] == "0"
    assert again.headers["x-modelyard-model"] == MODEL
    cost = Decimal(first.headers["x-modelyard-cost-usd"])
    assert cost > 0 and Decimal(again.headers["x-modelyard-saved-usd"]) == cost
    hit, miss = again.json(), first.json()
    assert hit["choices"] == miss["choices"] and hit["usage"] == miss["usage"]
    assert hit["modelyard"]["cache"] == "hit" and hit["modelyard"]["cost_usd"] == "0"
    assert hit["modelyard"]["request_id"] == again.headers["x-modelyard-request-id"]

    stack.poller.drain()
    [original] = ledger_items(first.headers["x-modelyard-request-id"])
    [served] = ledger_items(again.headers["x-modelyard-request-id"])
    assert original["cache"] == "miss" and original["cost_usd"] == cost
    assert served["cache"] == "hit" and served["status"] == "ok"
    assert served["cost_usd"] == 0 and served["saved_usd"] == cost
    assert served["model"] == MODEL and served["attempts"] == []
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    by_model = breakdown(counter(tenant, f"DAY#{day}"))[("MODEL", MODEL)]
    assert by_model["saved_usd"] == cost and by_model["cost_usd"] == cost
    assert by_model["cache_hits"] == 1 and by_model["cache_misses"] == 1
    assert by_model["requests"] == 2
    with new_client(stack, tenant) as client:
        report = client.get("/usage").json()
    assert report["total_saved_usd"] == str(cost)
    assert [(r["model"], r["saved_usd"]) for r in report["by_model"]] == [(MODEL, str(cost))]


def test_another_tenant_with_the_same_request_misses(stack: LocalStack, api: httpx.Client, sim):
    payload = body()
    assert post(api, payload).headers["x-modelyard-cache"] == "miss"
    settle(stack)
    assert post(api, payload).headers["x-modelyard-cache"] == "hit"
    calls = sim.calls[MODEL]
    with new_client(stack, f"other-{uuid.uuid4().hex[:8]}") as other:
        assert post(other, payload).headers["x-modelyard-cache"] == "miss"
    assert sim.calls[MODEL] == calls + 1


def test_a_non_deterministic_request_is_cached_only_when_asked(
    stack: LocalStack, api: httpx.Client, sim
):
    creative = body(temperature=0.7)
    calls = sim.calls[MODEL]
    for _ in range(2):
        assert "x-modelyard-cache" not in post(api, creative).headers
        settle(stack)
    assert sim.calls[MODEL] == calls + 2

    for ask in (
        {"headers": {"cache-control": "max-age=600"}, "extra": {}},
        {"headers": {}, "extra": {"modelyard": {"cache": True}}},
        {"headers": {}, "extra": {"modelyard": {"cache": {"max_age": 600}}}},
    ):
        asked = body(temperature=0.7, **ask["extra"])
        assert post(api, asked, **ask["headers"]).headers["x-modelyard-cache"] == "miss"
        settle(stack)
        assert post(api, asked, **ask["headers"]).headers["x-modelyard-cache"] == "hit"

    deterministic_but_declined = body(modelyard={"cache": False})
    assert "x-modelyard-cache" not in post(api, deterministic_but_declined).headers


def test_max_age_bounds_the_age_of_an_accepted_answer(stack: LocalStack, api: httpx.Client):
    payload = body()
    post(api, payload)
    settle(stack)
    time.sleep(1.1)
    fresh_enough = post(api, payload, **{"cache-control": "max-age=1"})
    assert fresh_enough.headers["x-modelyard-cache"] == "miss"  # the entry is over 1 s old
    settle(stack)
    assert post(api, payload).headers["x-modelyard-cache"] == "hit"


def test_no_cache_skips_the_lookup_and_refreshes_the_entry(
    stack: LocalStack, api: httpx.Client, sim
):
    payload = body()
    post(api, payload)
    settle(stack)
    calls = sim.calls[MODEL]
    refreshed = post(api, payload, **{"cache-control": "no-cache"})
    assert refreshed.headers["x-modelyard-cache"] == "bypass"
    assert sim.calls[MODEL] == calls + 1, "no-cache must go to the upstream"
    settle(stack)
    hit = post(api, payload)
    assert hit.headers["x-modelyard-cache"] == "hit"
    assert hit.json()["id"] == refreshed.json()["id"], "the entry holds the refreshed answer"
    assert hit.headers["x-modelyard-route-reason"].endswith(
        refreshed.headers["x-modelyard-request-id"]
    )


def test_no_store_never_writes(stack: LocalStack, api: httpx.Client, sim):
    payload = body()
    first = post(api, payload, **{"cache-control": "no-store"})
    assert first.headers["x-modelyard-cache"] == "miss"
    settle(stack)
    calls = sim.calls[MODEL]
    second = post(api, payload)
    assert second.headers["x-modelyard-cache"] == "miss", "no-store must not have written"
    assert sim.calls[MODEL] == calls + 1
    settle(stack)
    assert post(api, payload, **{"cache-control": "no-store"}).headers["x-modelyard-cache"] == "hit"


def _sdk(stack: LocalStack) -> OpenAI:
    return OpenAI(base_url=stack.base_url, api_key=stack.api_key, max_retries=0)  # type: ignore[attr-defined]


def _collect(stream: Any) -> tuple[str, dict[int, dict[str, str]], str | None, Any]:
    """Content, tool calls, finish reason and usage chunk of an SDK stream."""
    text, calls, finish, usage = "", {}, None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] = call.id or entry["id"]
                if call.function is not None:
                    entry["name"] = call.function.name or entry["name"]
                    entry["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    return text, calls, finish, usage


def test_a_streamed_hit_parses_with_the_openai_sdk(stack: LocalStack, sim):
    client = _sdk(stack)
    payload = body()
    first = client.chat.completions.create(**payload)  # a miss, stored
    settle(stack)
    calls = sim.calls[MODEL]
    raw = client.chat.completions.with_raw_response.create(
        **payload, stream=True, stream_options={"include_usage": True}
    )
    assert raw.headers["x-modelyard-cache"] == "hit"
    text, tool_calls, finish, usage = _collect(raw.parse())
    assert sim.calls[MODEL] == calls
    assert text == first.choices[0].message.content and not tool_calls
    assert finish == first.choices[0].finish_reason
    assert usage is not None and usage.usage.model_dump() == first.usage.model_dump()  # type: ignore[union-attr]
    meta = (usage.model_extra or {})["modelyard"]
    assert meta["cache"] == "hit" and meta["cost_usd"] == "0" and Decimal(meta["saved_usd"]) > 0


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_a_streamed_miss_is_stored_and_replays_its_tool_calls(stack: LocalStack, sim):
    client = _sdk(stack)
    payload = body(tools=[WEATHER_TOOL])
    raw = client.chat.completions.with_raw_response.create(**payload, stream=True)
    assert raw.headers["x-modelyard-cache"] == "miss"
    _, streamed_calls, finish, _ = _collect(raw.parse())
    assert finish == "tool_calls" and streamed_calls[0]["name"] == "get_weather"
    settle(stack)
    calls = sim.calls[MODEL]
    completion = client.chat.completions.with_raw_response.create(**payload)
    assert completion.headers["x-modelyard-cache"] == "hit"
    [call] = completion.parse().choices[0].message.tool_calls or []
    assert (call.id, call.function.name, call.function.arguments) == (  # type: ignore[union-attr]
        streamed_calls[0]["id"],
        "get_weather",
        streamed_calls[0]["arguments"],
    )
    stream = client.chat.completions.create(
        **payload, stream=True, stream_options={"include_usage": True}
    )
    _, replayed_calls, finish, usage = _collect(stream)
    assert replayed_calls == streamed_calls and finish == "tool_calls" and usage is not None
    assert sim.calls[MODEL] == calls


def test_purging_a_tenant_empties_its_cache_only(stack: LocalStack, api: httpx.Client, capsys):
    tenant = f"purge-{uuid.uuid4().hex[:8]}"
    payload = body()
    with new_client(stack, tenant) as client:
        post(client, payload)
        post(api, payload)
        settle(stack)
        assert cli.main(["cache", "purge", "--tenant", tenant]) == 0
        assert '"purged": 1' in capsys.readouterr().out
        assert post(client, payload).headers["x-modelyard-cache"] == "miss"
    assert post(api, payload).headers["x-modelyard-cache"] == "hit"


@pytest.mark.parametrize("setting", ["off", "request"])
def test_the_key_setting_can_turn_default_caching_off(stack: LocalStack, setting: str):
    from dataclasses import replace

    secret, record = create_key(stack.config, stack.pepper, f"keyset-{uuid.uuid4().hex[:8]}")
    stack.config.put_key(replace(record, cache=setting))
    payload = body()
    with httpx.Client(
        base_url=stack.base_url,  # type: ignore[attr-defined]
        headers={"authorization": f"Bearer {secret}"},
    ) as client:
        assert "x-modelyard-cache" not in post(client, payload).headers
        asked = post(client, payload, **{"cache-control": "max-age=60"})
    assert ("x-modelyard-cache" in asked.headers) == (setting == "request")


def test_openai_cached_prompt_tokens_are_priced_at_the_cached_rate(api: httpx.Client):
    """The SIMULATED upstream reports a repeated >= 1024-token prefix as cached tokens."""
    system = " ".join(f"rule{i} applies to every answer." for i in range(200))
    payload = {
        "model": "gpt-4o",
        "temperature": 0.7,  # not answered by the response cache
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": f"question {uuid.uuid4().hex}"},
        ],
    }
    first = post(api, payload).json()
    assert first["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    payload["messages"][1]["content"] = f"question {uuid.uuid4().hex}"
    second = post(api, payload).json()
    usage = second["usage"]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert cached >= 1024 and cached % 128 == 0
    expected = (
        (usage["prompt_tokens"] - cached) * Decimal("2.50")
        + cached * Decimal("1.25")
        + usage["completion_tokens"] * Decimal("10.00")
    ) / 10**6
    assert Decimal(second["modelyard"]["cost_usd"]) == expected
