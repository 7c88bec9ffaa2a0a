"""Many requests at once through one app in one process, as Lambda Managed Instances run it.

Each answer must be its own request's: its own id, the task its prompt has, its own model's
usage counted once in the ledger, whatever the others in flight were doing (streamed or not,
different models). The test session's upstream timeouts are 1 s, so on a busy machine some
requests end 502 with timed-out attempts: those too must be their own, and ledgered once.
"""

from __future__ import annotations

import asyncio
import json

import httpx

from modelyard.local.stack import LocalStack
from tests.helpers import ledger_items

PROMPTS = {
    "coding": "Write a Python function that reverses a linked list.",
    "translation": "Translate 'good morning, how are you' into French.",
    "math": "Solve for x: 3x + 7 = 22. Show the steps.",
}


MODELS = ("deepseek-v4-flash", "qwen3-32b")


async def _one(client: httpx.AsyncClient, i: int) -> tuple[str, str | None, str, str]:
    task = list(PROMPTS)[i % len(PROMPTS)]
    stream = i % 2 == 0
    body: dict = {
        "model": MODELS[i % 4 // 2],
        "messages": [{"role": "user", "content": f"{PROMPTS[task]} (#{i})"}],
        "stream": stream,
        "user": f"user-{i}",
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    response = await client.post("/chat/completions", json=body)
    headers = response.headers
    if response.status_code == 502:  # only for want of CPU: every attempt timed out
        attempts = response.json()["error"]["attempts"]
        assert {a["error_type"] for a in attempts} == {"timeout"}, response.text
        return task, None, body["model"], headers["x-modelyard-request-id"]
    assert response.status_code == 200, response.text
    if body["stream"]:
        chunks = [
            json.loads(line[6:])
            for line in response.text.splitlines()
            if line.startswith("data: {")
        ]
        assert chunks[-1]["usage"]["completion_tokens"] > 0
    return task, headers["x-modelyard-task"], body["model"], headers["x-modelyard-request-id"]


def test_a_hundred_concurrent_requests_each_get_their_own_answer_and_one_ledger_item(
    stack: LocalStack, sim
):
    async def all_at_once() -> list[tuple[str, str | None, str, str]]:
        async with httpx.AsyncClient(
            base_url=stack.base_url,  # type: ignore[attr-defined]
            headers={"authorization": f"Bearer {stack.api_key}"},
            timeout=60,
            limits=httpx.Limits(max_connections=100),
        ) as client:
            return await asyncio.gather(*(_one(client, i) for i in range(100)))

    results = asyncio.run(all_at_once())
    assert len({request_id for *_, request_id in results}) == 100
    for prompt in PROMPTS:  # each prompt classified as it is alone, in every one of its copies
        assert len({seen for asked, seen, *_ in results if asked == prompt and seen}) <= 1
    stack.poller.drain()
    for *_, model, request_id in results:
        [item] = ledger_items(request_id)
        assert item["model"] == model
