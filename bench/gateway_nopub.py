"""The gateway app exactly as deployed, but with a usage publisher that does nothing.

Served like handlers.router (`python -m uvicorn gateway_nopub:app`, PYTHONPATH=functions:bench)
to show the gateway's own throughput apart from the SQS call, which belongs to accounting.
"""

from __future__ import annotations

from typing import Any

from modelyard.api.app import create_app
from modelyard.gateway import Gateway
from modelyard.settings import Settings
from modelyard.wiring import build_gateway


class NullPublisher:
    async def publish(self, event: Any) -> str:
        return "dropped"


def _gateway(settings: Settings) -> Gateway:
    gateway = build_gateway(settings)
    gateway.publisher = NullPublisher()  # type: ignore[assignment]
    return gateway


app = create_app(gateway_factory=_gateway)
