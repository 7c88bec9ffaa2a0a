"""The official openai SDK against the gateway on a real uvicorn, served by simulated upstreams."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from pydantic import BaseModel

from modelyard.local.stack import LocalStack
from tests.helpers import ledger_items


@pytest.fixture
def client(stack: LocalStack) -> OpenAI:
    return OpenAI(base_url=stack.base_url, api_key=stack.api_key, max_retries=0)  # type: ignore[attr-defined]


@pytest.mark.compat("openai (Python)", "chat.completions.create")
def test_openai_sdk_gets_a_completion_with_modelyard_headers(client: OpenAI, stack: LocalStack):
    raw = client.chat.completions.with_raw_response.create(
        model="deepseek-ai/DeepSeek-V4-Flash",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Explain how AI model pricing works."},
        ],
        max_tokens=500,
        temperature=0.7,
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    headers = raw.headers
    assert headers["x-modelyard-model"] == "deepseek-v4-flash"
    assert headers["x-modelyard-provider"] == "deepseek"
    assert headers["x-modelyard-attempts"] == "1"
    assert headers["x-modelyard-task"]
    assert headers["x-modelyard-route-reason"]
    extra = completion.model_extra or {}
    meta = extra["modelyard"]
    assert meta["cost_usd"] == headers["x-modelyard-cost-usd"]
    assert meta["attempts"][0]["status"] == "ok"
    # 0.14 $/M input, 0.28 $/M output: the cost is exact
    from decimal import Decimal

    expected = (
        Decimal(completion.usage.prompt_tokens) * Decimal("0.14")
        + Decimal(completion.usage.completion_tokens) * Decimal("0.28")
    ) / 10**6
    assert Decimal(meta["cost_usd"]) == expected

    stack.poller.drain()
    [entry] = ledger_items(headers["x-modelyard-request-id"])
    assert entry["model"] == "deepseek-v4-flash"
    assert entry["cost_usd"] == expected
    assert entry["status"] == "ok"


def test_auto_route_names_task_model_and_reason(client: OpenAI):
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Write a short poem about the sea."}],
    )
    assert raw.headers["x-modelyard-model"] in {m.id for m in client.models.list()}
    assert raw.headers["x-modelyard-route-reason"].startswith("balanced")


@pytest.mark.compat("openai (Python)", "models.list")
def test_models_lists_routable_models_and_auto_routes(client: OpenAI):
    ids = {m.id for m in client.models.list()}
    assert {"auto", "auto:cost", "auto:quality", "auto:speed"} <= ids
    assert {
        "deepseek-v4-flash",
        "qwen3-32b",
        "gpt-4o",
        "kimi-k2.5",
        "claude-4-sonnet",
        "yi-lightning",
    } <= ids


@pytest.mark.compat("openai (Python)", "models.retrieve")
def test_models_retrieve_answers_any_name_the_router_takes(client: OpenAI):
    model = client.models.retrieve("gpt-4o")
    assert (model.id, model.object, model.owned_by) == ("gpt-4o", "model", "openai")
    for alias in ("deepseek-ai/DeepSeek-V4-Flash", "deepseek/deepseek-v4-flash"):
        assert client.models.retrieve(alias).id == "deepseek-v4-flash"
    route = client.models.retrieve("auto:cost")
    assert (route.id, route.owned_by) == ("auto:cost", "modelyard")


def test_models_retrieve_is_a_404_for_an_unknown_or_forbidden_model(stack: LocalStack):
    from modelyard.auth.admin import create_key

    narrow, _ = create_key(stack.config, stack.pepper, "local", allowed_models=("qwen3-32b",))
    client = OpenAI(base_url=stack.base_url, api_key=narrow, max_retries=0)  # type: ignore[attr-defined]
    assert client.models.retrieve("qwen3-32b").id == "qwen3-32b"
    for name in ("gpt-4o", "gpt-9", "auto:cheapest"):
        with pytest.raises(openai.NotFoundError) as caught:
            client.models.retrieve(name)
        assert caught.value.code == "model_not_found" and name in caught.value.message


@pytest.mark.compat("openai (Python)", "chat.completions.create(stream=True)")
def test_stream_delivers_chunks_and_a_usage_chunk_with_cost(client: OpenAI, stack: LocalStack):
    stream = client.chat.completions.create(
        model="qwen3-32b",
        messages=[{"role": "user", "content": "Say hello [sim:tokens=12]"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("(simulated qwen3-32b)")
    final = chunks[-1]
    assert final.choices == [] and final.usage is not None
    assert final.usage.completion_tokens == 12
    meta = (final.model_extra or {})["modelyard"]
    assert meta["model"] == "qwen3-32b" and meta["cost_usd"]


def test_stream_without_include_usage_has_no_usage_chunk(client: OpenAI):
    chunks = list(
        client.chat.completions.create(
            model="qwen3-32b", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert chunks and all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


@pytest.mark.compat("openai (Python)", "AsyncOpenAI streaming")
def test_async_client_streams(stack: LocalStack):
    async def run() -> list[str]:
        client = AsyncOpenAI(base_url=stack.base_url, api_key=stack.api_key)  # type: ignore[attr-defined]
        stream = await client.chat.completions.create(
            model="claude-4-sonnet",
            messages=[{"role": "user", "content": "hi [sim:tokens=5]"}],
            stream=True,
        )
        pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        await client.close()
        return pieces

    pieces = asyncio.run(run())
    assert "".join(pieces).startswith("(simulated claude-4-sonnet)")


@pytest.mark.compat("openai (Python)", "response_format json_object")
def test_json_mode_returns_json(client: OpenAI):
    completion = client.chat.completions.create(
        model="gpt-4o",
        response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "Give me a JSON object with an answer."}],
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


@pytest.mark.compat("openai (Python)", "error classes")
def test_errors_reach_the_sdk_with_openai_shape(stack: LocalStack, client: OpenAI):
    bad_key = OpenAI(base_url=stack.base_url, api_key="sk-wrong", max_retries=0)  # type: ignore[attr-defined]
    with pytest.raises(openai.AuthenticationError) as auth:
        bad_key.chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}])
    assert auth.value.body["code"] == "invalid_api_key"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="auto", messages=[])
    assert bad.value.body["param"] == "messages"  # type: ignore[index]


def test_usage_reports_the_callers_tenant_from_the_aggregates(stack: LocalStack, client: OpenAI):
    import httpx

    raw = client.chat.completions.with_raw_response.create(
        model="qwen3-32b", messages=[{"role": "user", "content": "x"}]
    )
    assert ledger_items(raw.headers["x-modelyard-request-id"]), "recorded"
    headers = {"authorization": f"Bearer {stack.api_key}"}
    report = httpx.get(f"{stack.base_url}/usage", headers=headers).json()  # type: ignore[attr-defined]
    assert report["tenant"] == "local"
    assert report["total_requests"] >= 1
    assert sum(float(d["cost_usd"]) for d in report["by_day"]) == pytest.approx(
        float(report["total_cost_usd"])
    )
    assert "qwen3-32b" in {m["model"] for m in report["by_model"]}
    assert sum(m["requests"] for m in report["by_month"]) == report["total_requests"]
    bad = httpx.get(f"{stack.base_url}/usage?since=yesterday", headers=headers)  # type: ignore[attr-defined]
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "since"


def test_feedback_is_recorded_once_for_the_callers_own_request(stack: LocalStack, client: OpenAI):
    import httpx

    from modelyard import aws
    from modelyard.settings import get_settings
    from modelyard.store.health import HealthRepository

    raw = client.chat.completions.with_raw_response.create(
        model="kimi-k2.5", messages=[{"role": "user", "content": "Translate 'hello' into German"}]
    )
    request_id = raw.headers["x-modelyard-request-id"]
    task = raw.headers["x-modelyard-task"]
    assert ledger_items(request_id), "recorded"
    headers = {"authorization": f"Bearer {stack.api_key}"}
    url = f"{stack.base_url}/feedback"  # type: ignore[attr-defined]
    first = httpx.post(url, headers=headers, json={"request_id": request_id, "score": 1})
    assert first.status_code == 200, first.text
    assert first.json()["model"] == "kimi-k2.5"
    again = httpx.post(url, headers=headers, json={"request_id": request_id, "score": 0})
    assert again.status_code == 409
    unknown = httpx.post(url, headers=headers, json={"request_id": "req_00", "score": 1})
    assert unknown.status_code == 404
    bad = httpx.post(url, headers=headers, json={"request_id": request_id, "score": 7})
    assert bad.status_code == 400
    feedback = HealthRepository(get_settings().usage_table, aws.client("dynamodb")).observations()
    assert feedback.feedback[(task, "kimi-k2.5")].count >= 1


def test_feedback_moves_quality_only_after_enough_ratings():
    from decimal import Decimal

    from modelyard.catalog import Feedback

    assert Feedback(1, Decimal(0)).blend(9.0) == pytest.approx(9.0 * 20 / 21)
    assert Feedback(200, Decimal(200)).blend(8.0) == pytest.approx((160 + 2000) / 220)


class Invoice(BaseModel):
    number: str
    total_usd: float
    paid: bool


@pytest.mark.compat("openai (Python)", "chat.completions.parse")
@pytest.mark.parametrize(
    "model", ["gpt-4o", "claude-4-sonnet", "gemini-2.5-flash", "bedrock-claude-sonnet-4"]
)
def test_chat_completions_parse_returns_the_schema_s_object(client: OpenAI, model: str):
    completion = client.chat.completions.parse(
        model=model,
        messages=[{"role": "user", "content": "Extract the invoice: #A-7, $120, paid."}],
        response_format=Invoice,
    )
    assert isinstance(completion.choices[0].message.parsed, Invoice)


@pytest.mark.compat("openai (Python)", "chat.completions.stream with response_format")
@pytest.mark.parametrize("model", ["claude-4-sonnet", "bedrock-claude-sonnet-4"])
def test_a_streamed_parse_assembles_the_schema_s_object(client: OpenAI, model: str):
    with client.chat.completions.stream(
        model=model,
        messages=[{"role": "user", "content": "Extract the invoice: #A-7, $120, paid."}],
        response_format=Invoice,
    ) as stream:
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, Invoice)
    assert final.choices[0].finish_reason == "stop"
