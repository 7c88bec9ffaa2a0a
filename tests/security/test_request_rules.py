"""Smaller rules a request must keep: real dates, content where a message needs it, a part
carrying what its type names, and audio and file parts only for models that take them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.security.support import CHAT

BAD_DATES = ["2099-99-99", "2020-13-45", "2021-02-30", "0000-00-00"]


@pytest.mark.parametrize("day", BAD_DATES)
def test_dates_that_do_not_exist_are_400(api: httpx.Client, admin: httpx.Client, day: str) -> None:
    for name in ("since", "until"):
        assert api.get("/usage", params={name: day}).status_code == 400
        assert admin.get("/admin/spend", params={name: day}).status_code == 400
    price = {"effective_from": day, "input": "1", "output": "2"}
    assert admin.put("/admin/prices/gpt-4o", json=price).status_code == 400
    assert admin.get("/admin/spend", params={"since": "2024-02-29"}).status_code == 200


def _chat(model: str, *parts: dict[str, Any]) -> dict[str, Any]:
    content = [{"type": "text", "text": "what is in it?"}, *parts]
    return {**CHAT, "model": model, "messages": [{"role": "user", "content": content}]}


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user"},
        {"role": "user", "content": None},
        {"role": "system"},
        {"role": "tool", "tool_call_id": "t1"},
    ],
)
def test_a_message_without_content_is_400(api: httpx.Client, message: dict[str, Any]) -> None:
    response = api.post("/chat/completions", json={**CHAT, "messages": [message]})
    assert response.status_code == 400, response.text
    assert "needs content" in response.json()["error"]["message"]


@pytest.mark.parametrize("kind", ["image_url", "input_audio", "file", "text"])
@pytest.mark.parametrize("model", ["auto", "bedrock-claude-sonnet-4", "gpt-4o"])
def test_a_part_without_its_payload_is_400(api: httpx.Client, kind: str, model: str) -> None:
    response = api.post("/chat/completions", json=_chat(model, {"type": kind}))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["message"].endswith(f"part of type '{kind}' needs its '{kind}' field")
    assert error["param"] == "messages.0.content.1"


AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
PDF = {
    "type": "file",
    "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
}


def test_audio_goes_to_no_text_only_model(api: httpx.Client) -> None:
    response = api.post("/chat/completions", json=_chat("auto", AUDIO))
    assert response.status_code == 400, response.text
    assert "no audio input" in response.json()["error"]["message"]
    response = api.post("/chat/completions", json=_chat("deepseek-v4-flash", AUDIO))
    assert response.status_code == 400
    assert "deepseek-v4-flash: no audio input" in response.json()["error"]["message"]


def test_files_go_only_to_a_model_that_takes_them(api: httpx.Client) -> None:
    routed = api.post("/chat/completions", json=_chat("auto", PDF))
    assert routed.status_code == 200, routed.text
    assert routed.headers["x-modelyard-model"] == "gpt-4o"  # the one seeded model with files
    refused = api.post("/chat/completions", json=_chat("kimi-k2.5", PDF))
    assert refused.status_code == 400
    assert "kimi-k2.5: no file input" in refused.json()["error"]["message"]


def test_the_gateway_s_own_body_fields_cannot_come_from_a_client(api) -> None:
    for name in ("modelyard_native", "modelyard_anthropic"):
        body = {**CHAT, name: {"dialect": "anthropic-messages", "body": {"model": "x"}}}
        refused = api.post("/chat/completions", json=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["param"] == name
