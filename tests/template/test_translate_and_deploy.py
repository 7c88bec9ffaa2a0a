"""The SAM template, translated offline and deployed into moto, has what the code relies on.

What moto's CloudFormation ignores (TTL, point-in-time recovery and SSE on tables, function
architecture and layers, the API's OpenAPI body) is checked on the translated template instead;
what it cannot deploy at all is listed in conftest.MOTO_CANNOT_DEPLOY.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from template_support import MOTO_CANNOT_DEPLOY, REGION, ROOT, STACK_NAME, Deployed

from modelyard.local.durable import REPRICE_DEFINITION_PATH
from modelyard.local.tables import load_template, ttl_attribute
from modelyard.pricing.reprice import PROJECTED_ATTRIBUTES
from modelyard.resilience.statemachine import DEFINITION_PATH, placeholders
from modelyard.settings import Settings
from modelyard.store.schema import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from modelyard.usage import batches
from modelyard.usage.aggregate import LEDGER_INDEX

TABLES = ("ConfigTable", "UsageTable")
FUNCTIONS = (
    "RouterFunction",
    "CostAggregatorFunction",
    "ProviderAttemptFunction",
    "AdminFunction",
    "RepriceFunction",
)
#: the ledger index's keys, as usage.aggregate.ledger_item writes them
LEDGER_INDEX_KEYS = ("ledger_pk", "ledger_sk")
STREAMING_URI = re.compile(
    r"^arn:\$\{AWS::Partition\}:apigateway:\$\{AWS::Region\}:lambda:path/2021-11-15/functions/"
    r"\$\{RouterFunction\.Arn\}/response-streaming-invocations$"
)


class _RecordingEnv(dict[str, str]):
    """An empty environment that remembers which names were looked up."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.names.add(key)
        return default

    def __getitem__(self, key: str) -> str:
        self.names.add(key)
        raise KeyError(key)


def settings_env_names() -> set[str]:
    """Every environment variable that Settings.from_env reads."""
    env = _RecordingEnv()
    Settings.from_env(env)
    return env.names


def _props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


def _stage(template: dict[str, Any]) -> dict[str, Any]:
    (stage,) = (r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage")
    return stage


def _function_env(deployed: Deployed, logical_id: str) -> dict[str, str]:
    config = deployed.client("lambda").get_function_configuration(
        FunctionName=deployed.physical[logical_id]
    )
    return config.get("Environment", {}).get("Variables", {})


# ------------------------------------------------------------------ the deploy itself


def test_everything_moto_can_deploy_came_up(deployed: Deployed, translated: dict[str, Any]) -> None:
    expected = set(translated["Resources"]) - deployed.dropped
    assert set(deployed.physical) == expected
    assert {translated["Resources"][lid]["Type"] for lid in deployed.dropped} <= MOTO_CANNOT_DEPLOY


def test_outputs(deployed: Deployed) -> None:
    api_id = deployed.physical["Api"]
    assert deployed.outputs["ApiUrl"] == (
        f"https://{api_id}.execute-api.{REGION}.amazonaws.com/prod/v1"
    )
    assert deployed.outputs["ConfigTableName"] == deployed.physical["ConfigTable"]
    assert deployed.outputs["UsageTableName"] == deployed.physical["UsageTable"]
    assert deployed.outputs["UsageQueueUrl"] == deployed.physical["UsageQueue"]
    assert deployed.outputs["StateMachineArn"] == deployed.physical["FallbackStateMachine"]
    assert deployed.outputs["RepriceStateMachineArn"] == deployed.physical["RepriceStateMachine"]
    assert deployed.outputs["DashboardName"] == f"{STACK_NAME}-{REGION}"


# ------------------------------------------------------------------ tables


@pytest.mark.parametrize("logical_id", TABLES)
def test_table_keys_match_the_code(deployed: Deployed, logical_id: str) -> None:
    table = deployed.client("dynamodb").describe_table(TableName=deployed.physical[logical_id])
    table = table["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
    ]
    index_keys = LEDGER_INDEX_KEYS if logical_id == "UsageTable" else ()
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": name, "AttributeType": "S"}
        for name in sorted((PARTITION_KEY, SORT_KEY, *index_keys))
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_usage_table_ledger_index_is_what_repricing_reads(deployed: Deployed) -> None:
    table = deployed.client("dynamodb").describe_table(TableName=deployed.physical["UsageTable"])
    (index,) = table["Table"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == LEDGER_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "ledger_pk", "KeyType": "HASH"},
        {"AttributeName": "ledger_sk", "KeyType": "RANGE"},
    ]
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    assert tuple(index["Projection"]["NonKeyAttributes"]) == PROJECTED_ATTRIBUTES


@pytest.mark.parametrize("logical_id", TABLES)
def test_tables_are_encrypted_and_recoverable(translated: dict[str, Any], logical_id: str) -> None:
    # moto's CloudFormation ignores these properties, so they are read from the translation.
    props = _props(translated, logical_id)
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert translated["Resources"][logical_id]["DeletionPolicy"] == "Retain"


def test_usage_table_ttl_is_the_codes_attribute(translated: dict[str, Any]) -> None:
    assert _props(translated, "UsageTable")["TimeToLiveSpecification"] == {
        "AttributeName": TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert "TimeToLiveSpecification" not in _props(translated, "ConfigTable")
    # and the local stack reads the same attribute from the template
    assert ttl_attribute("UsageTable") == TTL_ATTRIBUTE
    assert ttl_attribute("ConfigTable") is None


# ------------------------------------------------------------------ queues


def _queue_attributes(deployed: Deployed, logical_id: str) -> dict[str, str]:
    sqs = deployed.client("sqs")
    return sqs.get_queue_attributes(QueueUrl=deployed.physical[logical_id], AttributeNames=["All"])[
        "Attributes"
    ]


def test_usage_queue_redrives_to_the_dlq(deployed: Deployed) -> None:
    queue = _queue_attributes(deployed, "UsageQueue")
    dlq = _queue_attributes(deployed, "UsageDeadLetterQueue")
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 5
    assert int(dlq["MessageRetentionPeriod"]) == 14 * 24 * 3600
    # A standard DLQ keeps the original enqueue time: it must outlive the source queue.
    assert int(dlq["MessageRetentionPeriod"]) > int(queue["MessageRetentionPeriod"])
    assert queue["SqsManagedSseEnabled"] == dlq["SqsManagedSseEnabled"] == "true"


def test_aggregator_event_source_and_visibility_timeout(deployed: Deployed) -> None:
    lam = deployed.client("lambda")
    function = lam.get_function_configuration(
        FunctionName=deployed.physical["CostAggregatorFunction"]
    )
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    (mapping,) = (m for m in mappings if m["FunctionArn"] == function["FunctionArn"])
    queue = _queue_attributes(deployed, "UsageQueue")
    assert mapping["EventSourceArn"] == queue["QueueArn"]
    assert mapping["BatchSize"] == batches.MAX_EVENTS  # one seal per batch
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    window = mapping["MaximumBatchingWindowInSeconds"]
    assert 1 <= window <= 10
    # AWS's rule for Lambda consumers: visibility >= 6 x function timeout (+ batching window).
    assert int(queue["VisibilityTimeout"]) >= 6 * function["Timeout"] + window
    # a claim without a seal is taken over only once its invocation cannot be running
    assert function["Timeout"] < batches.LEASE_SECONDS < int(queue["VisibilityTimeout"])


# ------------------------------------------------------------------ functions


def test_function_environment_names_are_the_ones_settings_reads(deployed: Deployed) -> None:
    known = settings_env_names()
    for logical_id in FUNCTIONS:
        names = {n for n in _function_env(deployed, logical_id) if n.startswith("MODELYARD_")}
        assert names <= known, f"{logical_id} sets {sorted(names - known)}, unknown to settings"
        # the plain pepper is for local runs only; on AWS it comes from Secrets Manager
        assert "MODELYARD_KEY_PEPPER" not in names


def test_router_environment_points_at_the_deployed_resources(deployed: Deployed) -> None:
    env = _function_env(deployed, "RouterFunction")
    assert env["MODELYARD_CONFIG_TABLE"] == deployed.physical["ConfigTable"]
    assert env["MODELYARD_USAGE_TABLE"] == deployed.physical["UsageTable"]
    assert env["MODELYARD_USAGE_QUEUE_URL"] == deployed.physical["UsageQueue"]
    assert env["MODELYARD_KEY_PEPPER_SECRET_ARN"] == deployed.secret_arns["KeyPepperSecret"]
    assert env["MODELYARD_PROVIDER_SECRET_ARN"] == deployed.secret_arns["ProviderSecret"]
    assert env["MODELYARD_STATE_MACHINE_ARN"] == deployed.physical["FallbackStateMachine"]
    assert env["MODELYARD_STAGE"] == "prod"
    # Lambda Web Adapter: the app streams through uvicorn, readiness on the health route
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/healthz"
    assert env["PORT"] == "8080"


def test_aggregator_environment(deployed: Deployed) -> None:
    env = _function_env(deployed, "CostAggregatorFunction")
    assert env["MODELYARD_USAGE_TABLE"] == deployed.physical["UsageTable"]
    # it needs no secrets
    assert not {n for n in env if n.endswith("_SECRET_ARN")}


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_powertools_environment(deployed: Deployed, logical_id: str) -> None:
    env = _function_env(deployed, logical_id)
    assert env["POWERTOOLS_SERVICE_NAME"] == "modelyard"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Modelyard"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_no_secret_values_in_environment(deployed: Deployed, logical_id: str) -> None:
    for name, value in _function_env(deployed, logical_id).items():
        if "SECRET" in name or "KEY" in name or "TOKEN" in name:
            assert name.endswith("_ARN") and value.startswith("arn:"), name


def test_router_runs_under_the_web_adapter(deployed: Deployed, translated: dict[str, Any]) -> None:
    config = deployed.client("lambda").get_function_configuration(
        FunctionName=deployed.physical["RouterFunction"]
    )
    assert config["Handler"] == "run.sh"
    assert config["Timeout"] == translated["Parameters"]["RouterTimeoutSeconds"]["Default"]
    assert config["MemorySize"] >= 1024
    # moto's CloudFormation drops Layers and Architectures: read them from the translation
    props = _props(translated, "RouterFunction")
    assert props["Architectures"] == ["arm64"]
    assert props["Runtime"] in {"python3.12", "python3.13"}
    (layer,) = props["Layers"]
    assert layer == {
        "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:753240598075:layer:"
        "LambdaAdapterLayerArm64:${WebAdapterLayerVersion}"
    }


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_functions_are_arm64_zip(translated: dict[str, Any], logical_id: str) -> None:
    props = _props(translated, logical_id)
    assert props["Architectures"] == ["arm64"]
    assert props.get("PackageType", "Zip") == "Zip"


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_handlers_name_modules_that_exist(translated: dict[str, Any], logical_id: str) -> None:
    handler = _props(translated, logical_id)["Handler"]
    code = ROOT / "functions"
    if handler == "run.sh":
        run = code / "run.sh"
        assert os.access(run, os.X_OK), "functions/run.sh must be executable"
        assert "handlers.router:app" in run.read_text()
        module = "handlers.router"
    else:
        module, _, _function = handler.rpartition(".")
    path = code / Path(*module.split("."))
    assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), handler


# ------------------------------------------------------------------ durable path


def test_state_machine_is_the_definition_file(
    deployed: Deployed, translated: dict[str, Any]
) -> None:
    sfn = deployed.client("stepfunctions")
    machine = sfn.describe_state_machine(stateMachineArn=deployed.physical["FallbackStateMachine"])
    # moto's CloudFormation leaves ${...} in place (it ignores DefinitionSubstitutions)
    assert json.loads(machine["definition"]) == json.loads(DEFINITION_PATH.read_text())
    props = _props(translated, "FallbackStateMachine")
    assert set(props["DefinitionSubstitutions"]) == placeholders(DEFINITION_PATH.read_text())
    assert props["DefinitionSubstitutions"] == {
        "ProviderAttemptFunctionArn": {"Fn::GetAtt": ["ProviderAttemptFunction", "Arn"]},
        "JobUsageFunctionArn": {"Fn::GetAtt": ["JobUsageFunction", "Arn"]},
        "UsageTableName": {"Ref": "UsageTable"},
    }
    assert _props(load_template(), "FallbackStateMachine")["Type"] == "STANDARD"


def test_reprice_state_machine_is_its_definition_file(
    deployed: Deployed, translated: dict[str, Any]
) -> None:
    sfn = deployed.client("stepfunctions")
    machine = sfn.describe_state_machine(stateMachineArn=deployed.physical["RepriceStateMachine"])
    assert json.loads(machine["definition"]) == json.loads(REPRICE_DEFINITION_PATH.read_text())
    props = _props(translated, "RepriceStateMachine")
    assert set(props["DefinitionSubstitutions"]) == placeholders(
        REPRICE_DEFINITION_PATH.read_text()
    )
    assert props["DefinitionSubstitutions"] == {
        "RepriceFunctionArn": {"Fn::GetAtt": ["RepriceFunction", "Arn"]},
        "UsageTableName": {"Ref": "UsageTable"},
    }
    assert _props(load_template(), "RepriceStateMachine")["Type"] == "STANDARD"
    env = _function_env(deployed, "RepriceFunction")
    assert env["MODELYARD_CONFIG_TABLE"] == deployed.physical["ConfigTable"]
    assert env["MODELYARD_USAGE_TABLE"] == deployed.physical["UsageTable"]
    assert not {n for n in env if n.endswith("_SECRET_ARN")}


# ------------------------------------------------------------------ API


def test_api_streams_every_path_but_admin_to_the_router(translated: dict[str, Any]) -> None:
    props = _props(translated, "Api")
    assert props["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    paths = dict(props["Body"]["paths"])
    assert set(paths) == {"/", "/{proxy+}", "/admin/{proxy+}"}
    del paths["/admin/{proxy+}"]
    for path, item in paths.items():
        assert "security" not in item["x-amazon-apigateway-any-method"], path
        integration = item["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy", path
        assert integration["httpMethod"] == "POST", path
        assert integration["responseTransferMode"] == "STREAM", path
        # streaming integrations may run for up to 15 minutes
        assert 29_000 < integration["timeoutInMillis"] <= 900_000, path
        assert STREAMING_URI.match(integration["uri"]["Fn::Sub"]), path


def test_admin_paths_need_iam_auth_and_reach_only_the_admin_function(
    translated: dict[str, Any],
) -> None:
    body = _props(translated, "Api")["Body"]
    method = body["paths"]["/admin/{proxy+}"]["x-amazon-apigateway-any-method"]
    (requirement,) = method["security"]
    (scheme_name,) = requirement
    scheme = body["components"]["securitySchemes"][scheme_name]
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"  # AuthorizationType AWS_IAM
    integration = method["x-amazon-apigateway-integration"]
    assert integration["type"] == "aws_proxy"
    assert "${AdminFunction.Arn}/invocations" in integration["uri"]["Fn::Sub"]
    assert _props(translated, "AdminFunction")["Handler"] == "handlers.admin.handler"


def test_admin_environment(deployed: Deployed) -> None:
    env = _function_env(deployed, "AdminFunction")
    assert env["MODELYARD_CONFIG_TABLE"] == deployed.physical["ConfigTable"]
    assert env["MODELYARD_USAGE_TABLE"] == deployed.physical["UsageTable"]
    assert env["MODELYARD_KEY_PEPPER_SECRET_ARN"] == deployed.secret_arns["KeyPepperSecret"]
    # no upstream credentials: the admin API never calls a provider
    assert "MODELYARD_PROVIDER_SECRET_ARN" not in env


def test_waf_association_is_optional_and_targets_the_stage(translated: dict[str, Any]) -> None:
    association = translated["Resources"]["ApiWebAclAssociation"]
    assert association["Type"] == "AWS::WAFv2::WebACLAssociation"
    assert association["Condition"] == "HasWebAcl"
    assert translated["Parameters"]["WebAclArn"]["Default"] == ""
    arn = association["Properties"]["ResourceArn"]["Fn::Sub"]
    assert arn.endswith("::/restapis/${Api}/stages/${ApiStage}")
    assert association["Properties"]["WebACLArn"] == {"Ref": "WebAclArn"}


def test_api_stage_throttling_comes_from_parameters(translated: dict[str, Any]) -> None:
    stage = _stage(translated)
    assert stage["Properties"]["StageName"] == {"Ref": "Stage"}
    (settings,) = stage["Properties"]["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ThrottleRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ThrottleBurstLimit"}


def test_router_concurrency_and_timeout_are_capped_by_parameters(
    translated: dict[str, Any],
) -> None:
    props = _props(translated, "RouterFunction")
    parameters = translated["Parameters"]
    assert props["ReservedConcurrentExecutions"] == {"Ref": "RouterReservedConcurrency"}
    assert props["Timeout"] == {"Ref": "RouterTimeoutSeconds"}
    assert parameters["RouterReservedConcurrency"]["Default"] <= 100
    # well below Lambda's 900 s, above the app's own deadline
    assert Settings.from_env({}).deadline_seconds < parameters["RouterTimeoutSeconds"]["Default"]
    assert parameters["RouterTimeoutSeconds"]["Default"] <= 300


def test_access_logs_are_on_by_default_and_name_no_header_or_body(
    translated: dict[str, Any],
) -> None:
    stage = _stage(translated)
    condition, setting, off = stage["Properties"]["AccessLogSetting"]["Fn::If"]
    assert condition == "HasAccessLogs" and off == {"Ref": "AWS::NoValue"}
    assert translated["Parameters"]["ApiAccessLogs"]["Default"] == "on"
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(setting["Format"])
    assert "$context.requestId" in fields.values()
    variables = re.findall(r"\$[a-zA-Z.]+", setting["Format"])
    assert not [v for v in variables if not v.startswith("$context.")]  # no $input (bodies)
    assert not [v for v in variables if re.search(r"apiKey|authorizer|header|querystring", v)]
    (settings,) = stage["Properties"]["MethodSettings"]
    assert settings["DataTraceEnabled"] is False  # execution logs would hold bodies


def test_tracing_is_an_option_off_by_default(translated: dict[str, Any]) -> None:
    assert translated["Parameters"]["Tracing"]["Default"] == "off"
    stage = _stage(translated)
    assert stage["Properties"]["TracingEnabled"] == {"Fn::If": ["HasTracing", True, False]}
    mode = _props(translated, "RouterFunction")["TracingConfig"]["Mode"]
    assert mode == {"Fn::If": ["HasTracing", "Active", "PassThrough"]}


def test_api_gateway_may_invoke_the_router(deployed: Deployed) -> None:
    policy = deployed.client("lambda").get_policy(FunctionName=deployed.physical["RouterFunction"])
    (statement,) = json.loads(policy["Policy"])["Statement"]
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    source = statement["Condition"]["ArnLike"]["AWS:SourceArn"]
    assert source.startswith(f"arn:aws:execute-api:{REGION}:")
    assert f":{deployed.physical['Api']}/" in source


def test_dashboard_deploys_with_every_placeholder_resolved(deployed: Deployed) -> None:
    body = deployed.client("cloudwatch").get_dashboard(DashboardName=f"{STACK_NAME}-{REGION}")
    text = body["DashboardBody"]
    assert "${" not in text
    dashboard = json.loads(text)
    assert {w["properties"].get("region", REGION) for w in dashboard["widgets"]} == {REGION}
    dlq_name = deployed.physical["UsageDeadLetterQueue"].rsplit("/", 1)[-1]
    assert dlq_name in text
