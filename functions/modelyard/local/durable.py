"""The durable paths on the embedded AWS: the fallback and reprice state machines and their
functions.

Each state machine is created from the same definition file the template deploys (same
substitutions), and moto's Step Functions executor runs it. Their functions (ProviderAttempt,
JobUsage, Reprice) are registered with moto and their handlers run in process
(modelyard.local.lambdas), because moto runs no Lambda code without Docker.
"""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from modelyard.local import lambdas
from modelyard.local.tables import load_template
from modelyard.resilience.retry import RetryPolicy
from modelyard.resilience.statemachine import DEFINITION_PATH, load_definition

STATE_MACHINE = "modelyard-fallback"
ATTEMPT_FUNCTION = "modelyard-provider-attempt"
JOB_USAGE_FUNCTION = "modelyard-job-usage"
REPRICE_STATE_MACHINE = "modelyard-reprice"
REPRICE_FUNCTION = "modelyard-reprice"
REPRICE_DEFINITION_PATH = DEFINITION_PATH.with_name("reprice.asl.json")
ROLE = "modelyard-local"
#: moto's switches for running state machines and simple (Docker-less) Lambda invokes
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


def enable_execution(endpoint: str) -> None:
    """Turn on state machine execution in the moto server at `endpoint`."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=json.dumps(MOTO_CONFIG).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def function_handler(logical_id: str) -> str:
    """A function's Handler, as the template declares it."""
    resources = load_template()["Resources"]
    return str(resources[logical_id]["Properties"]["Handler"])


def attempt_handler() -> str:
    """ProviderAttemptFunction's Handler, as the template declares it."""
    return function_handler("ProviderAttemptFunction")


def _role_arn(iam: Any) -> str:
    try:
        return str(iam.get_role(RoleName=ROLE)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        return str(
            iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(_TRUST))["Role"][
                "Arn"
            ]
        )


def create_attempt_function(lambda_client: Any, iam: Any) -> str:
    """The ProviderAttempt function in moto, its handler run in process; returns its ARN."""
    return create_function(lambda_client, iam, ATTEMPT_FUNCTION, "ProviderAttemptFunction")


def create_function(lambda_client: Any, iam: Any, name: str, logical_id: str) -> str:
    """The template's function `logical_id` in moto as `name`, its handler run in process;
    returns its ARN."""
    handler = function_handler(logical_id)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        module = handler.rpartition(".")[0].replace(".", "/")
        z.writestr(f"{module}.py", "# runs in process, see modelyard.local\n")
    try:
        arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    except lambda_client.exceptions.ResourceNotFoundException:
        arn = lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=_role_arn(iam),
            Handler=handler,
            Code={"ZipFile": archive.getvalue()},
            Timeout=300,
        )["FunctionArn"]
    lambdas.register(name, handler)
    return str(arn)


def create_state_machine(
    sfn: Any,
    iam: Any,
    substitutions: dict[str, str],
    name: str = STATE_MACHINE,
    policy: RetryPolicy | None = None,
    path: Path = DEFINITION_PATH,
) -> str:
    """The fallback state machine (or the one in `path`) from its definition file; returns its
    ARN.

    `policy` replaces the Attempt state's Retry (tests use tiny intervals); by default the
    definition runs as deployed.
    """
    definition = load_definition(substitutions, policy, path)
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"] == name:
            sfn.update_state_machine(
                stateMachineArn=machine["stateMachineArn"], definition=definition
            )
            return str(machine["stateMachineArn"])
    return str(
        sfn.create_state_machine(
            name=name, definition=definition, roleArn=_role_arn(iam), type="STANDARD"
        )["stateMachineArn"]
    )
