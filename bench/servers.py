"""Child processes of the harness (run with the project's venv).

    python bench/servers.py sim --port N
        the SIMULATED upstream on uvicorn, every model at zero latency except PACED_MODEL,
        which has a fixed small TTFT and token pacing (the streaming figures)
    python bench/servers.py stack --sim-url URL
        the embedded AWS (moto server) with tables and queues, seeded so that every provider
        points at URL; prints one JSON line (environment, key, URLs) and runs until stdin closes

Separate processes keep the simulator and moto off the load generator's and the gateway's GIL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "functions")]

from modelyard.local.simulator import SimModel, Simulator  # noqa: E402
from modelyard.local.stack import LocalStack  # noqa: E402

PACED = {"kimi-k2.5": (50, 200)}  # model -> (TTFT ms, tokens/s); keep equal to common.PACED_*


class BenchSimulator(Simulator):
    """The project's simulator with per-model pacing: zero for all but the paced models."""

    def __init__(self, models: list[SimModel], paced: dict[str, tuple[int, int]]) -> None:
        super().__init__(models, latency="realistic", seed=1234)
        self.paced = {name: (ttft / 1000, 1 / tps) for name, (ttft, tps) in paced.items()}

    def _delays(self, model: SimModel) -> tuple[float, float]:
        return self.paced.get(model.id, (0.0, 0.0))


def seed_models() -> list[SimModel]:
    from modelyard.store.seed import default_seed_dir

    models = json.loads((default_seed_dir() / "models.json").read_text())["models"]
    return [SimModel(m["id"], m["upstream"], m["ttft_ms"], m["tokens_per_second"]) for m in models]


class ExternalSimStack(LocalStack):
    """LocalStack whose providers point at a simulator running in another process."""

    external_sim_url: str = ""

    def _start_simulator(self) -> None:
        self.simulator = None
        self.sim_url = self.external_sim_url


def run_sim(port: int) -> None:
    import uvicorn

    app = BenchSimulator(seed_models(), PACED).app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def run_stack(sim_url: str) -> None:
    stack = ExternalSimStack(simulate=True, sim_latency="zero")
    stack.external_sim_url = sim_url
    stack.start(poll=False)
    keys = ("AWS_", "MODELYARD_", "MOTO_", "POWERTOOLS_")
    info: dict[str, Any] = {
        "env": {k: v for k, v in os.environ.items() if k.startswith(keys)},
        "api_key": stack.api_key,
        "sim_url": stack.sim_url,
        "queue_url": stack.queue_url,
        "endpoint": stack.endpoint,
    }
    print(json.dumps(info), flush=True)
    try:
        sys.stdin.read()  # until the harness closes our stdin (or ends us)
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    sim = sub.add_parser("sim")
    sim.add_argument("--port", type=int, required=True)
    stack = sub.add_parser("stack")
    stack.add_argument("--sim-url", required=True)
    args = parser.parse_args()
    if args.cmd == "sim":
        run_sim(args.port)
    else:
        run_stack(args.sim_url)


if __name__ == "__main__":
    main()
