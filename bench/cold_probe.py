"""Runs in a fresh process: import the router handler, then serve one chat completion.

    PYTHONPATH=functions:bench python bench/cold_probe.py API_KEY

Prints {"import_s": ..., "first_request_s": ..., "status": ...}: the first request builds the
gateway (boto3 clients, the catalog and key look-ups on DynamoDB, the upstream connection).
The environment must point at a running stack (AWS_ENDPOINT_URL, MODELYARD_*).
"""

from __future__ import annotations

import time

t0 = time.perf_counter()
import handlers.router  # noqa: E402

imported = time.perf_counter() - t0

import asyncio  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

from common import chat_body  # noqa: E402
from inproc import AsgiCaller  # noqa: E402


async def first_request(api_key: str) -> int:
    caller = AsgiCaller(handlers.router.app, api_key)
    status, _ = await caller.post("/v1/chat/completions", json.dumps(chat_body()).encode())
    return status


if __name__ == "__main__":
    t1 = time.perf_counter()
    status = asyncio.run(first_request(sys.argv[1]))
    print(
        json.dumps(
            {"import_s": imported, "first_request_s": time.perf_counter() - t1, "status": status}
        )
    )
