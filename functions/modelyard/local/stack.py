"""The local stack behind `make run` and the end-to-end tests.

An embedded AWS (moto server on loopback) with the template's tables, queues and state
machines (fallback and reprice, run by moto's executor), seeded; the
simulated upstreams on loopback for every provider without a real key; the usage poller
standing in for Lambda's SQS trigger; and, on request, the gateway itself on uvicorn. Only
endpoints differ from production: the app, the handlers and boto3 are the same.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "us-east-1"
CONFIG_TABLE = "modelyard-config"
USAGE_TABLE = "modelyard-usage"
QUEUE = "modelyard-usage"
DLQ = "modelyard-usage-dlq"
DEFAULT_API_KEY = "sk-modelyard-local"
LOCAL_TENANT = "local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """A uvicorn server on a loopback port, in a daemon thread."""

    def __init__(self, app: Any, port: int, log_level: str = "warning") -> None:
        import uvicorn

        from modelyard.providers.http import LIMITS

        # Idle connections outlive the gateway pool's keep-alive expiry, so a pooled connection
        # is never closed under a request here (uvicorn's default is 5 s: a request that reused
        # a connection at that moment failed as connection_error and was retried, and a test
        # that counts attempts saw one more; resets have their own chaos tests).
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level=log_level,
            lifespan="off",
            access_log=False,
            timeout_keep_alive=int(LIMITS.keepalive_expiry or 0) + 15,
        )
        self.server = uvicorn.Server(config)
        self.port = port
        self.thread = threading.Thread(target=self.server.run, daemon=True, name=f"uvicorn-{port}")

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def _admin_key(env: Any) -> str:
    """`MODELYARD_ADMIN_KEY`, or a new random key (printed by `make run`)."""
    from modelyard.auth.keys import new_secret

    return str(env.get("MODELYARD_ADMIN_KEY") or new_secret())


@dataclass
class LocalStack:
    simulate: bool = True
    sim_faults: str | None = None
    sim_latency: str = "realistic"
    api_key: str = field(
        default_factory=lambda: os.environ.get("MODELYARD_API_KEY", DEFAULT_API_KEY)
    )
    #: generated unless set (a weak one is refused at start: auth.admin.check_admin_secret)
    admin_key: str = field(default_factory=lambda: _admin_key(os.environ))
    seed_dir: Path | None = None
    #: providers served by the simulator (filled by start)
    simulated: list[str] = field(default_factory=list)

    def start(self, poll: bool = True) -> LocalStack:
        from moto.server import ThreadedMotoServer

        from modelyard.auth.admin import check_admin_secret
        from modelyard.local.moto_patches import install

        check_admin_secret(self.admin_key)  # before anything starts
        install()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-call access log
        self.moto_port = free_port()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self._moto.start()
        self._servers: list[ServerThread] = []
        self._environment()
        self._create_resources()
        self._create_state_machine()
        if self.simulate:
            self._start_simulator()
        self._seed()
        self.poller = self._make_poller()
        if poll:
            self.poller.start()
        return self

    # -- pieces --------------------------------------------------------------------------------
    def _environment(self) -> None:
        from modelyard import aws
        from modelyard.settings import get_settings

        self.endpoint = f"http://127.0.0.1:{self.moto_port}"
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "MOTO_PORT": str(self.moto_port),
                "MODELYARD_CONFIG_TABLE": CONFIG_TABLE,
                "MODELYARD_USAGE_TABLE": USAGE_TABLE,
                "POWERTOOLS_METRICS_NAMESPACE": "Modelyard",
                "POWERTOOLS_SERVICE_NAME": "modelyard",
            }
        )
        aws.reset_clients()
        get_settings.cache_clear()

    def _create_resources(self) -> None:
        from modelyard import aws
        from modelyard.local.tables import create_tables
        from modelyard.settings import get_settings

        create_tables(
            aws.client("dynamodb"), {"ConfigTable": CONFIG_TABLE, "UsageTable": USAGE_TABLE}
        )
        sqs = aws.client("sqs")
        dlq_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.queue_url = sqs.create_queue(
            QueueName=QUEUE,
            Attributes={
                "VisibilityTimeout": "5",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}
                ),
            },
        )["QueueUrl"]
        self.queue_arn = sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.dlq_url = dlq_url
        os.environ["MODELYARD_USAGE_QUEUE_URL"] = self.queue_url
        get_settings.cache_clear()

    def _create_state_machine(self) -> None:
        """The durable fallback path (Prefer: respond-async), run by moto's executor."""
        from modelyard import aws
        from modelyard.local import durable
        from modelyard.settings import get_settings

        durable.enable_execution(self.endpoint)
        self.attempt_function_arn = durable.create_attempt_function(
            aws.client("lambda"), aws.client("iam")
        )
        self.reprice_function_arn = durable.create_function(
            aws.client("lambda"), aws.client("iam"), durable.REPRICE_FUNCTION, "RepriceFunction"
        )
        self.job_usage_function_arn = durable.create_function(
            aws.client("lambda"), aws.client("iam"), durable.JOB_USAGE_FUNCTION, "JobUsageFunction"
        )
        self.state_machine_arn = durable.create_state_machine(
            aws.client("stepfunctions"), aws.client("iam"), self.substitutions()
        )
        os.environ["MODELYARD_STATE_MACHINE_ARN"] = self.state_machine_arn
        # re-pricing history after a price correction (modelyard prices reprice)
        self.reprice_state_machine_arn = durable.create_state_machine(
            aws.client("stepfunctions"),
            aws.client("iam"),
            self.substitutions(),
            name=durable.REPRICE_STATE_MACHINE,
            path=durable.REPRICE_DEFINITION_PATH,
        )
        os.environ["MODELYARD_REPRICE_STATE_MACHINE_ARN"] = self.reprice_state_machine_arn
        get_settings.cache_clear()

    def substitutions(self) -> dict[str, str]:
        """The state machines' DefinitionSubstitutions, as the template sets them."""
        return {
            "ProviderAttemptFunctionArn": self.attempt_function_arn,
            "JobUsageFunctionArn": self.job_usage_function_arn,
            "RepriceFunctionArn": self.reprice_function_arn,
            "UsageTableName": USAGE_TABLE,
        }

    def _start_simulator(self) -> None:
        from modelyard.local.simulator import SimModel, Simulator
        from modelyard.store.seed import default_seed_dir

        folder = self.seed_dir or default_seed_dir()
        models = json.loads((folder / "models.json").read_text())["models"]
        self.simulator = Simulator(
            [
                SimModel(m["id"], m["upstream"], m["ttft_ms"], m["tokens_per_second"])
                for m in models
            ],
            faults=self.sim_faults
            if self.sim_faults is not None
            else os.environ.get("MODELYARD_SIM_FAULTS"),
            latency=os.environ.get("MODELYARD_SIM_LATENCY", self.sim_latency),
        )
        self.sim_port = free_port()
        self._servers.append(ServerThread(self.simulator.app(), self.sim_port).start())
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"

    def _seed(self) -> None:
        from modelyard import aws
        from modelyard.auth.admin import ADMIN_TENANT, create_key
        from modelyard.settings import get_settings
        from modelyard.store.config import ConfigRepository
        from modelyard.store.seed import seed_items
        from modelyard.wiring import key_pepper

        items = []
        for item in seed_items(self.seed_dir):
            if (
                self.simulate
                and item["sk"].startswith("PROVIDER#")
                and not os.environ.get(item.get("api_key_env", ""))
            ):
                # as the real base URLs: OpenAI's ends in /v1, Anthropic's and Gemini's at the
                # host; Bedrock's is the runtime endpoint itself (its paths start at /model)
                base_url = {"openai": f"{self.sim_url}/{item['id']}/v1", "bedrock": self.sim_url}
                item = {
                    **item,
                    "base_url": base_url.get(item["wire"], f"{self.sim_url}/{item['id']}"),
                }
                self.simulated.append(item["id"])
            items.append(item)
        self.config = ConfigRepository(CONFIG_TABLE, aws.client("dynamodb"))
        self.config.put_items(items)
        self.pepper = key_pepper(get_settings())
        create_key(
            self.config, self.pepper, LOCAL_TENANT, name="local dev key", secret=self.api_key
        )
        create_key(
            self.config,
            self.pepper,
            ADMIN_TENANT,
            name="local admin key",
            admin=True,
            secret=self.admin_key,
        )

    def _make_poller(self) -> Any:
        from modelyard import aws
        from modelyard.local.poller import UsagePoller

        return UsagePoller(aws.client("sqs"), self.queue_url, self.queue_arn, REGION)

    # -- the gateway ---------------------------------------------------------------------------
    def serve_gateway(self, port: int | None = None) -> str:
        """Start the gateway app on uvicorn in a thread; returns its base URL (`.../v1`)."""
        from modelyard.api.app import create_app

        port = port or free_port()
        self.app = create_app(admin=True)
        self._servers.append(ServerThread(self.app, port).start())
        return f"http://127.0.0.1:{port}/v1"

    def stop(self) -> None:
        if getattr(self, "poller", None) is not None:
            self.poller.stop()
        for server in reversed(getattr(self, "_servers", [])):
            server.stop()
        from modelyard.local import durable, lambdas

        lambdas.unregister(durable.ATTEMPT_FUNCTION)
        lambdas.unregister(durable.REPRICE_FUNCTION)
        self._moto.stop()
