"""The router Lambda: one FastAPI app, two doors.

- `app`: served by uvicorn under the Lambda Web Adapter (`run.sh`), for response streaming
  through API Gateway REST (`responseTransferMode: STREAM`).
- `handler`: Mangum, for API Gateway proxy events (REST v1, HTTP v2) that are buffered
  anyway, and for `sam local invoke -e events/...`.
Importing this module creates no AWS client and opens no connection.
"""

from typing import Any

from modelyard.api.app import create_app
from modelyard.logs import configure_logging

configure_logging()  # once per process: JSON lines with the request id, secrets scrubbed
app = create_app()


def __getattr__(name: str) -> Any:
    """`handler` is made on first use: the streaming door (uvicorn) never needs Mangum."""
    if name == "handler":
        from mangum import Mangum

        globals()["handler"] = Mangum(app, lifespan="off", api_gateway_base_path="/")
        return globals()["handler"]
    raise AttributeError(name)
