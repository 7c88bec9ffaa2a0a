"""The OpenAI Agents SDK, with its default model (the Responses API), against the gateway on a
real uvicorn: a run that calls a function tool and ends in a typed `output_type`."""

from __future__ import annotations

import asyncio

import pytest
from openai import AsyncOpenAI
from pydantic import BaseModel

from modelyard.local.stack import LocalStack

agents = pytest.importorskip("agents")


class Forecast(BaseModel):
    city: str
    summary: str


@pytest.mark.compat("openai-agents (Python)", "Runner.run with a function tool and output_type")
def test_runner_calls_a_tool_and_returns_its_output_type(stack: LocalStack) -> None:
    called: list[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        called.append(city)
        return f"18C and sunny in {city}"

    agent = agents.Agent(
        name="forecaster",
        instructions="Look the weather up, then answer with a forecast.",
        model="gpt-4o",
        tools=[get_weather],
        output_type=Forecast,
    )

    async def run() -> agents.RunResult:
        client = AsyncOpenAI(base_url=stack.base_url, api_key=stack.api_key, max_retries=0)  # type: ignore[attr-defined]
        agents.set_tracing_disabled(True)  # traces would go to OpenAI's servers
        agents.set_default_openai_client(client, use_for_tracing=False)
        agents.set_default_openai_api("responses")
        async with client:
            return await agents.Runner.run(agent, "What's the weather in Paris?")

    result = asyncio.run(run())
    assert len(called) == 1
    assert isinstance(result.final_output, Forecast)
    kinds = [item.type for item in result.new_items]
    assert "tool_call_item" in kinds and "tool_call_output_item" in kinds
