"""Shared by the template checks: paths, the offline SAM translation, the moto deploy.

Nothing here needs an AWS account, Docker or the network: the SAM translator runs in process
with an offline managed-policy map, and the translated template is deployed into moto's
CloudFormation. conftest.py turns these into fixtures.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from unittest import mock

from modelyard.local.tables import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
DASHBOARD_PATH = ROOT / "infra" / "dashboards" / "main.json"

REGION = "us-east-1"
STACK_NAME = "modelyard"
ARTIFACT_BUCKET = "modelyard-artifacts"
ARTIFACT_KEY = "functions.zip"

#: The only managed policy a function role may carry (CloudWatch Logs only).
BASIC_EXECUTION_POLICY = "AWSLambdaBasicExecutionRole"

#: Resource types in the translated template that moto's CloudFormation cannot deploy, and why.
#: Every other resource must come up, so a new type that moto skips shows up as a failure.
MOTO_CANNOT_DEPLOY = frozenset(
    {
        # No moto CloudFormation model. The deploy creates both secrets through moto's Secrets
        # Manager API first and puts their ARNs where the template says !Ref.
        "AWS::SecretsManager::Secret",
        # No moto CloudFormation model, and moto never evaluates alarms: test_alarms.py checks
        # their definitions. The dashboard's alarm widget gets ARNs built from the logical ids.
        "AWS::CloudWatch::Alarm",
        # moto's RestApi ignores the OpenAPI `Body`, so the API has no methods and moto refuses
        # the Deployment ("The REST API doesn't contain any methods"); Stage has no moto model.
        # The body (the streaming integration) and the stage are checked on the translation.
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Stage",
        # No moto CloudFormation model (and it only exists when AlertEmail is set).
        "AWS::SNS::Subscription",
        # Only exists when WebAclArn is set; moto's CloudFormation has no WAFv2 model.
        "AWS::WAFv2::WebACLAssociation",
    }
)


class _OfflinePolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader, which would ask IAM for policy ARNs."""

    def load(self) -> dict[str, str]:
        return {
            BASIC_EXECUTION_POLICY: f"arn:aws:iam::aws:policy/service-role/{BASIC_EXECUTION_POLICY}"
        }


@contextmanager
def offline_aws_env() -> Iterator[None]:
    """boto3 environment for the tests: a region, fake keys, no profile or custom endpoint."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"))
    }
    env.update(
        AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing"
    )
    with mock.patch.dict(os.environ, env, clear=True):
        yield


_accounts = itertools.count(100_000_000_001)


@contextmanager
def isolated_moto() -> Iterator[str]:
    """In-process moto in an AWS account of its own; yields the account id.

    `mock_aws()` normally wipes every moto backend when it starts and again when it stops. In
    the same pytest session the end-to-end tests run moto's server in process (tests/conftest.py),
    sharing those backends; a fresh account and no reset keep the two apart without wiping the
    local stack's tables. The switches the local stack turns on in moto's process-wide config
    (state machine execution, Docker-less Lambda) are back at moto's defaults while it runs, so
    resources CloudFormation creates are read from the same backends. Use together with
    offline_aws_env().
    """
    from moto import mock_aws

    account = str(next(_accounts))
    defaults: Any = {
        "stepfunctions": {"execute_state_machine": False},
        "lambda": {"use_docker": True},
    }
    with mock.patch.dict(os.environ, {"MOTO_ACCOUNT_ID": account}):
        mocked = mock_aws(config=defaults)
        mocked.start(reset=False)
        try:
            yield account
        finally:
            mocked.stop(remove_data=False)


@lru_cache(maxsize=1)
def _translate() -> dict[str, Any]:
    return translate_template(load_template(TEMPLATE_PATH))


def translate_template(sam: dict[str, Any]) -> dict[str, Any]:
    """The plain CloudFormation the SAM transform makes of a template (as data)."""
    from samtranslator.translator.transform import transform

    # `sam build` + `sam package` put the code in S3; the translator accepts only S3 locations.
    code_uri = f"s3://{ARTIFACT_BUCKET}/{ARTIFACT_KEY}"
    sam.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = code_uri
    for resource in sam["Resources"].values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in props:
            props["CodeUri"] = code_uri
        # `sam package` uploads a local DefinitionUri; inline the same file instead, so that
        # moto's CloudFormation gets the real definition.
        if resource.get("Type") == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["Definition"] = json.loads((ROOT / props.pop("DefinitionUri")).read_text())
    # The translator takes AWS::Region and AWS::Partition from boto3's default session.
    with offline_aws_env():
        return transform(sam, {}, _OfflinePolicyLoader())


def translate() -> dict[str, Any]:
    """The plain CloudFormation the SAM transform makes of template.yaml (a fresh copy)."""
    return copy.deepcopy(_translate())


@dataclass
class Deployed:
    """The translated template as deployed into moto's CloudFormation."""

    #: the template moto received (after MOTO_CANNOT_DEPLOY was taken out)
    template: dict[str, Any]
    outputs: dict[str, str]
    #: logical id -> physical id, for every resource moto created
    physical: dict[str, str]
    #: logical id -> ARN, for the secrets created outside CloudFormation
    secret_arns: dict[str, str]
    #: logical ids left out of the deploy
    dropped: frozenset[str]

    @staticmethod
    def client(service: str) -> Any:
        import boto3

        client: Any = boto3.client
        return client(service, region_name=REGION)


def _moto_ready(translated: dict[str, Any], secret_arns: dict[str, str]) -> dict[str, Any]:
    """The translation minus what moto cannot deploy, references to it patched."""
    resources = translated["Resources"]
    dropped = {lid for lid, r in resources.items() if r["Type"] in MOTO_CANNOT_DEPLOY}
    body = copy.deepcopy(translated)
    body["Resources"] = {lid: r for lid, r in resources.items() if lid not in dropped}
    text = json.dumps(body)
    for lid, arn in secret_arns.items():
        text = text.replace(json.dumps({"Ref": lid}), json.dumps(arn))
    alarm_prefix = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
    for lid in dropped:
        if resources[lid]["Type"] == "AWS::CloudWatch::Alarm":
            text = text.replace(f"${{{lid}.Arn}}", alarm_prefix + lid)
    return json.loads(text)


@contextmanager
def deploy_into_moto(translated: dict[str, Any]) -> Iterator[Deployed]:
    """Deploy the translation into moto's CloudFormation; moto stays active until exit."""
    import boto3

    with offline_aws_env(), isolated_moto():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secret_arns = {
            lid: secrets.create_secret(Name=f"{STACK_NAME}-{lid}", SecretString="{}")["ARN"]
            for lid, r in translated["Resources"].items()
            if r["Type"] == "AWS::SecretsManager::Secret"
        }

        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("run.sh", "#!/bin/sh\n")
        s3.put_object(Bucket=ARTIFACT_BUCKET, Key=ARTIFACT_KEY, Body=archive.getvalue())

        body = _moto_ready(translated, secret_arns)
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(
            StackName=STACK_NAME, TemplateBody=json.dumps(body), Capabilities=["CAPABILITY_IAM"]
        )
        stack = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise AssertionError(f"{stack['StackStatus']}: {stack.get('StackStatusReason')}")
        summaries = cfn.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]
        try:
            yield Deployed(
                template=body,
                outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
                physical={
                    s["LogicalResourceId"]: s.get("PhysicalResourceId", "") for s in summaries
                },
                secret_arns=secret_arns,
                dropped=frozenset(set(translated["Resources"]) - set(body["Resources"])),
            )
        finally:
            # Bucket names are global across moto's accounts: free this one for the next run.
            s3.delete_object(Bucket=ARTIFACT_BUCKET, Key=ARTIFACT_KEY)
            s3.delete_bucket(Bucket=ARTIFACT_BUCKET)
