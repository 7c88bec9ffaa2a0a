"""The router module is cheap to import: no AWS client, no network, nothing a request does not
need. How long it takes is measured by the benchmark's cold-start rows (`make bench`), not
asserted here: a wall-clock limit fails on a busy machine and proves nothing on a quiet one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).parents[2] / "functions"

PROBE = """
import json, socket, sys
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

import handlers.router
loaded = sorted(sys.modules)
print(json.dumps({"clients": made, "modules": loaded}))
"""


# Heavy or request-irrelevant packages the router's import must not pull in: the Mangum door,
# boto3's resource layer and the dev-only trainer's numerical stack are loaded lazily or never.
NOT_AT_IMPORT = {"mangum", "boto3", "numpy", "scipy", "uvicorn", "moto", "yaml", "matplotlib"}
#: ... nor the admin routes, which only the admin function serves
NOT_AT_IMPORT |= {"modelyard.api.admin"}


def test_router_imports_without_clients_network_or_heavy_modules():
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
    assert NOT_AT_IMPORT.isdisjoint(probe["modules"]), NOT_AT_IMPORT & set(probe["modules"])
