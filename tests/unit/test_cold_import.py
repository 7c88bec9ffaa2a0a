"""The router module is cheap to import: no AWS client, no network, well under a second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).parents[2] / "functions"

PROBE = """
import json, socket, sys, time
import botocore.session

made = []
original = botocore.session.Session.create_client
def spy(self, *args, **kwargs):
    made.append(args[0] if args else kwargs.get("service_name"))
    return original(self, *args, **kwargs)
botocore.session.Session.create_client = spy

def no_network(*args, **kwargs):
    raise OSError("network access during import")
socket.socket.connect = no_network
socket.create_connection = no_network

started = time.perf_counter()
import handlers.router
elapsed = time.perf_counter() - started
print(json.dumps({"clients": made, "seconds": elapsed}))
"""


def test_router_imports_without_clients_or_network_in_well_under_a_second():
    env = {**os.environ, "PYTHONPATH": str(FUNCTIONS)}
    env.pop("AWS_ENDPOINT_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["clients"] == []
    assert probe["seconds"] < 1.0
