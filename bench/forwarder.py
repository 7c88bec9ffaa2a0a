"""The floor of this design: a bare FastAPI app that forwards the body through one httpx client.

No authentication, routing, pricing or accounting: the least a Python gateway on FastAPI,
uvicorn and httpx can do per request. `BENCH_FORWARD_URL` is the upstream's chat URL.

    python -m uvicorn forwarder:app --app-dir bench --port N
"""

from __future__ import annotations

import os

import httpx
from fastapi import FastAPI, Request, Response

UPSTREAM = os.environ.get("BENCH_FORWARD_URL", "http://127.0.0.1:9/v1/chat/completions")

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
_client: httpx.AsyncClient | None = None


def client() -> httpx.AsyncClient:
    global _client
    if _client is None:
        _client = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
    return _client


@app.post("/v1/chat/completions")
async def forward(request: Request) -> Response:
    upstream = await client().post(
        UPSTREAM, content=await request.body(), headers={"content-type": "application/json"}
    )
    return Response(
        upstream.content, status_code=upstream.status_code, media_type="application/json"
    )
