"""Least privilege: every function's role names only the actions and resources it uses.

Read from the translated template, where SAM has turned each function's `Policies` into an
IAM role (or the function names its own role), so that both kinds are checked the same way.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest
from template_support import BASIC_EXECUTION_POLICY

from modelyard.usage.aggregate import LEDGER_INDEX

Grants = dict[str, set[str]]  # resource logical id -> actions

CONFIG_READ = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
BEDROCK_INVOKE = {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}
# TransactWriteItems is authorised per item: PutItem / UpdateItem / ConditionCheckItem.
EXPECTED: dict[str, Grants] = {
    "RouterFunction": {
        "ConfigTable": CONFIG_READ,
        "UsageTable": {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
        },
        "UsageQueue": {"sqs:SendMessage"},
        "KeyPepperSecret": {"secretsmanager:GetSecretValue"},
        "ProviderSecret": {"secretsmanager:GetSecretValue"},
        "FallbackStateMachine": {"states:StartExecution"},
        "BedrockFoundationModel": BEDROCK_INVOKE,
        "BedrockInferenceProfile": BEDROCK_INVOKE,
    },
    "CostAggregatorFunction": {
        "UsageTable": {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:ConditionCheckItem",
        },
        "UsageQueue": {
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility",
        },
    },
    # the admin API: the only writer of ConfigTable (keys and their index items, tenants)
    "AdminFunction": {
        "ConfigTable": {
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        },
        "UsageTable": {"dynamodb:Query", "dynamodb:BatchWriteItem"},
        "KeyPepperSecret": {"secretsmanager:GetSecretValue"},
    },
    "ProviderAttemptFunction": {
        "ConfigTable": CONFIG_READ,
        # the job's request and answer (JOB# items only)
        "UsageTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        "ProviderSecret": {"secretsmanager:GetSecretValue"},
        "BedrockFoundationModel": BEDROCK_INVOKE,
        "BedrockInferenceProfile": BEDROCK_INVOKE,
    },
    # a job's usage: its item, the queue, and when the queue refuses, the direct ledger write
    "JobUsageFunction": {
        "UsageTable": {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:ConditionCheckItem",
        },
        "UsageQueue": {"sqs:SendMessage"},
    },
    # re-pricing: the catalog, the ledger index, and one transaction of updates per item
    "RepriceFunction": {
        "ConfigTable": {"dynamodb:Query"},
        "UsageTable": {"dynamodb:Query", "dynamodb:UpdateItem"},
    },
}
#: the reprice state machine: invoke its function, open and close the job's summary item
REPRICE_STATE_MACHINE_GRANTS: Grants = {
    "RepriceFunction": {"lambda:InvokeFunction"},
    "UsageTable": {"dynamodb:UpdateItem"},
}
#: the durable path's state machine: invoke the attempt, record the job, hand off its usage
STATE_MACHINE_GRANTS: Grants = {
    "ProviderAttemptFunction": {"lambda:InvokeFunction"},
    "JobUsageFunction": {"lambda:InvokeFunction"},
    "UsageTable": {"dynamodb:UpdateItem"},
}
SCOPED_SERVICES = ("dynamodb:", "sqs:", "secretsmanager:", "states:", "kms:", "bedrock:")
WRITE_ACTIONS = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
}
_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_ids(resource: Any) -> set[str]:
    """Logical ids a policy Resource refers to; '*' for a wildcard or anything unrecognised."""
    if isinstance(resource, dict):
        if "Ref" in resource:
            return {resource["Ref"]}
        if "Fn::GetAtt" in resource:
            return {resource["Fn::GetAtt"][0]}
        if "Fn::Sub" in resource:
            text = resource["Fn::Sub"]
            text = text[0] if isinstance(text, list) else text
            ids = set(_SUB_REF.findall(text)) - {"AWS"}
            return ids or {"*"}
    return {"*"}


def _role_id(resource: dict[str, Any]) -> str:
    props = resource["Properties"]
    role = props["Role"] if "Role" in props else props["RoleArn"]
    assert "Fn::GetAtt" in role, f"role must be created by the template, got {role}"
    return str(role["Fn::GetAtt"][0])


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in _as_list(policy["PolicyDocument"]["Statement"])
    ]


def grants(translated: dict[str, Any], function_id: str) -> Grants:
    """What the role of a function (or a state machine) may do, by resource logical id."""
    resources = translated["Resources"]
    role = resources[_role_id(resources[function_id])]
    found: Grants = defaultdict(set)
    for statement in _statements(role):
        assert statement["Effect"] == "Allow", statement
        assert "NotAction" not in statement and "NotResource" not in statement, statement
        for resource in _as_list(statement["Resource"]):
            for logical_id in _resource_ids(resource):
                found[logical_id].update(_as_list(statement["Action"]))
    return dict(found)


@pytest.mark.parametrize("function_id", sorted(EXPECTED))
def test_function_grants_are_exactly_what_it_uses(
    translated: dict[str, Any], function_id: str
) -> None:
    assert grants(translated, function_id) == EXPECTED[function_id]


def test_every_function_is_covered(translated: dict[str, Any]) -> None:
    functions = {
        lid for lid, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::Function"
    }
    assert functions == set(EXPECTED)


@pytest.mark.parametrize("function_id", sorted(EXPECTED))
def test_no_wildcards_for_data_services(translated: dict[str, Any], function_id: str) -> None:
    for logical_id, actions in grants(translated, function_id).items():
        assert not any(a.endswith("*") for a in actions), (logical_id, actions)
        scoped = {a for a in actions if a.startswith(SCOPED_SERVICES)}
        assert not (scoped and logical_id == "*"), f"{function_id}: {scoped} on '*'"


@pytest.mark.parametrize("function_id", sorted(EXPECTED))
def test_only_the_logs_managed_policy(translated: dict[str, Any], function_id: str) -> None:
    # SAM's generated role for an SQS event would attach AWSLambdaSQSQueueExecutionRole
    # (receive from every queue); only the CloudWatch Logs policy is allowed.
    # The router's optional tracing (`Tracing` parameter) makes SAM attach X-Ray's write-only
    # policy (put trace segments and telemetry, read nothing), and nothing else.
    allowed = {f":policy/service-role/{BASIC_EXECUTION_POLICY}"}
    if function_id == "RouterFunction":
        allowed.add(":policy/AWSXrayWriteOnlyAccess")
    resources = translated["Resources"]
    role = resources[_role_id(resources[function_id])]
    for arn in role["Properties"].get("ManagedPolicyArns", []):
        text = arn["Fn::Sub"] if isinstance(arn, dict) else arn
        assert any(text.endswith(suffix) for suffix in allowed), text


def test_only_the_admin_function_writes_the_config_table(translated: dict[str, Any]) -> None:
    # ConfigTable is written by `modelyard seed` and `modelyard keys` (the operator) and by the
    # IAM-authorised admin API; the router, which serves the internet, only reads it.
    writers = {
        function_id
        for function_id in EXPECTED
        if grants(translated, function_id).get("ConfigTable", set()) & WRITE_ACTIONS
    }
    assert writers == {"AdminFunction"}


def test_aggregator_has_no_config_access_and_no_secrets(translated: dict[str, Any]) -> None:
    found = grants(translated, "CostAggregatorFunction")
    assert "ConfigTable" not in found
    assert not {"KeyPepperSecret", "ProviderSecret"} & set(found)


def test_roles_trust_only_lambda(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    for function_id in EXPECTED:
        role = resources[_role_id(resources[function_id])]
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert _as_list(statement["Principal"]["Service"]) == ["lambda.amazonaws.com"]
        assert _as_list(statement["Action"]) == ["sts:AssumeRole"]


def test_api_gateway_permissions_are_scoped_to_this_api(translated: dict[str, Any]) -> None:
    permissions = [
        r["Properties"]
        for r in translated["Resources"].values()
        if r["Type"] == "AWS::Lambda::Permission"
    ]
    assert sorted(p["FunctionName"]["Ref"] for p in permissions) == [
        "AdminFunction",
        "RouterFunction",
    ]
    for permission in permissions:
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert permission["Action"] == "lambda:InvokeFunction"
        assert _resource_ids(permission["SourceArn"]) == {"Api"}


def test_state_machine_grants_are_exactly_what_it_uses(translated: dict[str, Any]) -> None:
    assert grants(translated, "FallbackStateMachine") == STATE_MACHINE_GRANTS
    resources = translated["Resources"]
    role = resources[_role_id(resources["FallbackStateMachine"])]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert _as_list(statement["Principal"]["Service"]) == ["states.amazonaws.com"]
    assert not role["Properties"].get("ManagedPolicyArns")


def test_reprice_state_machine_grants_are_exactly_what_it_uses(
    translated: dict[str, Any],
) -> None:
    assert grants(translated, "RepriceStateMachine") == REPRICE_STATE_MACHINE_GRANTS
    resources = translated["Resources"]
    role = resources[_role_id(resources["RepriceStateMachine"])]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert _as_list(statement["Principal"]["Service"]) == ["states.amazonaws.com"]
    assert not role["Properties"].get("ManagedPolicyArns")
    # the operator starts it (modelyard prices reprice); no function may
    assert not any("RepriceStateMachine" in grants(translated, f) for f in EXPECTED)


def test_reprice_queries_the_usage_table_only_through_the_ledger_index(
    translated: dict[str, Any],
) -> None:
    resources = translated["Resources"]
    role = resources[_role_id(resources["RepriceFunction"])]
    usage_queries = [
        resource
        for statement in _statements(role)
        if "dynamodb:Query" in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
        if "UsageTable" in _resource_ids(resource)
    ]
    assert usage_queries == [{"Fn::Sub": f"${{UsageTable.Arn}}/index/{LEDGER_INDEX}"}]


def test_only_the_router_starts_jobs(translated: dict[str, Any]) -> None:
    starters = {f for f in EXPECTED if "FallbackStateMachine" in grants(translated, f)}
    assert starters == {"RouterFunction"}


def test_the_aggregator_runs_at_a_bounded_concurrency(template: dict[str, Any]) -> None:
    """Its transactions all touch the same hot counters: unbounded, they only conflict."""
    usage = template["Resources"]["CostAggregatorFunction"]["Properties"]["Events"]["Usage"]
    assert 2 <= usage["Properties"]["ScalingConfig"]["MaximumConcurrency"] <= 10
