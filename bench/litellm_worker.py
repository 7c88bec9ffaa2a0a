"""Runs INSIDE bench/.venv-litellm: LiteLLM's Router in process against the same simulated
upstream, with a direct httpx call as the baseline measured in the same process and run.

    bench/.venv-litellm/bin/python bench/litellm_worker.py --api-base URL --n N --seconds S

Prints one JSON line: {"direct": [seconds...], "router": [seconds...], "version": ...}.
Self-contained on purpose (stdlib, httpx and litellm only): the project is not installed here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx

MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Say hello to the benchmark in one short sentence."},
]
MODEL = "deepseek-v4-flash"
BLOCK = 100


async def main(api_base: str, n: int, seconds: float) -> dict[str, Any]:
    import litellm
    from litellm import Router

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    router = Router(
        model_list=[
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_base": api_base,
                    "api_key": "sk-simulated",
                },
            }
        ]
    )
    body = json.dumps({"model": MODEL, "messages": MESSAGES, "temperature": 0}).encode()
    url = api_base.rstrip("/") + "/chat/completions"
    client = httpx.AsyncClient(timeout=30.0)

    async def direct() -> None:
        response = await client.post(
            url, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text

    async def via_router() -> None:
        response = await router.acompletion(model=MODEL, messages=MESSAGES, temperature=0)
        assert response.choices[0].message.content

    for _ in range(50):  # warm-up: connections, caches, lazy imports
        await direct()
        await via_router()
    results: dict[str, list[float]] = {"direct": [], "router": []}
    deadline = time.monotonic() + seconds
    while len(results["router"]) < n and time.monotonic() < deadline:
        for name, call in (("direct", direct), ("router", via_router)):
            for _ in range(BLOCK):
                t0 = time.perf_counter()
                await call()
                results[name].append(time.perf_counter() - t0)
    await client.aclose()
    return {**results, "version": getattr(litellm, "__version__", "")}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-base", required=True)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.api_base, args.n, args.seconds))), flush=True)
