"""One pooled `httpx.AsyncClient` per event loop, shared by every adapter.

A client holds connections bound to the loop that opened them; Mangum may run each invocation
on a fresh loop, so the client is kept per loop rather than per process.
"""

from __future__ import annotations

import asyncio

import httpx

TIMEOUT = httpx.Timeout(connect=5.0, read=120.0, write=30.0, pool=5.0)
LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=60)

_clients: dict[int, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}


def http_client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    entry = _clients.get(id(loop))
    if entry is not None and entry[0] is loop:
        return entry[1]
    for key, (old_loop, _client) in list(_clients.items()):
        if old_loop.is_closed():
            del _clients[key]
    client = httpx.AsyncClient(timeout=TIMEOUT, limits=LIMITS, http2=False)
    _clients[id(loop)] = (loop, client)
    return client
