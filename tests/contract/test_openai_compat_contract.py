"""The OpenAI-compatible adapter against the documented request shapes of its providers.

OpenAI (and DeepSeek, Qwen, Kimi, Groq, ... by base URL): `POST {base}/chat/completions`,
`Authorization: Bearer`. Azure OpenAI: `POST {endpoint}/openai/deployments/{deployment}/
chat/completions?api-version=...` with the key in `api-key`. DeepSeek reports cache hits as
`prompt_cache_hit_tokens`; OpenAI as `prompt_tokens_details.cached_tokens`.
"""

from __future__ import annotations

import asyncio
import json

import httpx

from modelyard.catalog import Capabilities, Model, Provider
from modelyard.providers.openai_compat import OpenAICompatAdapter, usage_from_openai

MODEL = Model("gpt-4o", "p", "gpt-4o-prod", "chat", 128000, 16384, Capabilities(), 500, 50)
BODY = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "hi"}],
    "modelyard": {"policy": "cost"},
    "stream": False,
}


def build(provider: Provider, stream: bool) -> httpx.Request:
    async def run() -> httpx.Request:
        return OpenAICompatAdapter()._request(provider, MODEL, BODY, stream)

    return asyncio.run(run())


def test_openai_compatible_request(monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test")
    provider = Provider(
        "openai", "OpenAI", "openai", "https://api.openai.com/v1/", "TEST_OPENAI_KEY"
    )
    request = build(provider, stream=True)
    assert str(request.url) == "https://api.openai.com/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    sent = json.loads(request.content)
    assert sent["model"] == "gpt-4o-prod" and "modelyard" not in sent
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_azure_openai_names_the_deployment_and_takes_an_api_key_header(monkeypatch):
    monkeypatch.setenv("TEST_AZURE_KEY", "azure-secret")
    provider = Provider(
        "azure",
        "Azure OpenAI",
        "openai",
        "https://acme.openai.azure.com",
        "TEST_AZURE_KEY",
        api_version="2024-10-21",
    )
    request = build(provider, stream=False)
    assert str(request.url) == (
        "https://acme.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions"
        "?api-version=2024-10-21"
    )
    assert request.headers["api-key"] == "azure-secret"
    assert "authorization" not in request.headers
    assert "stream" not in json.loads(request.content)


def test_usage_is_normalised_across_openai_and_deepseek():
    openai = usage_from_openai(
        {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 1024},
            "completion_tokens_details": {"reasoning_tokens": 120},
        }
    )
    assert (openai.input_tokens, openai.cached_tokens, openai.reasoning_tokens) == (1200, 1024, 120)
    deepseek = usage_from_openai(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 10,
            "total_tokens": 1010,
            "prompt_cache_hit_tokens": 768,
            "prompt_cache_miss_tokens": 232,
        }
    )
    assert (deepseek.input_tokens, deepseek.cached_tokens) == (1000, 768)
