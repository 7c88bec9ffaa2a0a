"""modelyard.local.tables: local tables made from the template's definitions, under moto."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from template_support import REGION, TEMPLATE_PATH, isolated_moto, offline_aws_env

from modelyard.local.tables import (
    DEFAULT_TEMPLATE_PATH,
    create_tables,
    load_template,
    table_definitions,
    ttl_attribute,
)
from modelyard.pricing.reprice import PROJECTED_ATTRIBUTES
from modelyard.store.schema import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from modelyard.usage.aggregate import LEDGER_INDEX

NAMES = {"ConfigTable": "local-config", "UsageTable": "local-usage"}


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with offline_aws_env(), isolated_moto():
        yield boto3.client("dynamodb", region_name=REGION)


def test_default_template_is_the_repositorys() -> None:
    assert DEFAULT_TEMPLATE_PATH == TEMPLATE_PATH


def test_create_tables_makes_both_with_keys_and_ttl(dynamodb: Any) -> None:
    create_tables(dynamodb, NAMES)

    assert sorted(dynamodb.list_tables()["TableNames"]) == sorted(NAMES.values())
    for name in NAMES.values():
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["TableStatus"] == "ACTIVE"
        assert table["KeySchema"] == [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    usage_ttl = dynamodb.describe_time_to_live(TableName="local-usage")["TimeToLiveDescription"]
    assert usage_ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": TTL_ATTRIBUTE}
    config_ttl = dynamodb.describe_time_to_live(TableName="local-config")["TimeToLiveDescription"]
    assert config_ttl["TimeToLiveStatus"] == "DISABLED"


def test_usage_table_has_the_ledger_index(dynamodb: Any) -> None:
    create_tables(dynamodb, NAMES)

    table = dynamodb.describe_table(TableName="local-usage")["Table"]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == LEDGER_INDEX
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["ledger_pk", "ledger_sk"]
    assert tuple(index["Projection"]["NonKeyAttributes"]) == PROJECTED_ATTRIBUTES
    config = dynamodb.describe_table(TableName="local-config")["Table"]
    assert not config.get("GlobalSecondaryIndexes")


def test_create_tables_is_idempotent(dynamodb: Any) -> None:
    create_tables(dynamodb, NAMES)
    dynamodb.put_item(TableName="local-usage", Item={"pk": {"S": "a"}, "sk": {"S": "b"}})

    create_tables(dynamodb, NAMES)  # existing tables are left alone, data included

    assert dynamodb.get_item(TableName="local-usage", Key={"pk": {"S": "a"}, "sk": {"S": "b"}})[
        "Item"
    ]
    ttl = dynamodb.describe_time_to_live(TableName="local-usage")["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"


def test_create_tables_turns_ttl_on_for_an_existing_table(dynamodb: Any) -> None:
    dynamodb.create_table(TableName="local-usage", **table_definitions()["UsageTable"])

    create_tables(dynamodb, {"UsageTable": "local-usage"})

    ttl = dynamodb.describe_time_to_live(TableName="local-usage")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": TTL_ATTRIBUTE}


def test_unknown_logical_id_is_refused(dynamodb: Any) -> None:
    with pytest.raises(KeyError, match="NoSuchTable"):
        create_tables(dynamodb, {"NoSuchTable": "x"})
    assert dynamodb.list_tables()["TableNames"] == []


def test_definitions_are_create_table_arguments() -> None:
    definitions = table_definitions()
    assert set(definitions) == {"ConfigTable", "UsageTable"}
    basics = {"KeySchema", "AttributeDefinitions", "BillingMode"}
    assert set(definitions["ConfigTable"]) == basics
    assert set(definitions["UsageTable"]) == basics | {"GlobalSecondaryIndexes"}
    for kwargs in definitions.values():
        assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
    assert ttl_attribute("UsageTable") == TTL_ATTRIBUTE
    assert ttl_attribute("ConfigTable") is None


def test_missing_template_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="template_path"):
        table_definitions(tmp_path / "template.yaml")


def test_short_form_tags_become_long_form() -> None:
    template = load_template()
    queue = template["Resources"]["UsageQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["UsageDeadLetterQueue", "Arn"]
    }
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["MODELYARD_CONFIG_TABLE"] == {"Ref": "ConfigTable"}
    assert template["Conditions"]["HasAlertEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]
    }
    # a fresh copy each time: callers may change what they get
    template["Resources"].clear()
    assert load_template()["Resources"]


def test_short_form_tags_on_a_scratch_template(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Resources:\n"
        "  T:\n"
        "    Type: AWS::DynamoDB::Table\n"
        "    Condition: C\n"
        "    Properties:\n"
        "      TableName: !Join ['-', [!Ref AWS::StackName, t]]\n"
        "      Tags:\n"
        "        - Key: k\n"
        "          Value: !If [C, !Select [0, !Split [',', 'a,b']], !Ref AWS::NoValue]\n"
        "      Other: !GetAtt [X, Arn]\n"
        "      Cond: !Condition C\n"
        "      Enc: !Base64 {'Fn::Sub': x}\n"
    )
    props = load_template(path)["Resources"]["T"]["Properties"]
    assert props["TableName"] == {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "t"]]}
    assert props["Tags"][0]["Value"] == {
        "Fn::If": [
            "C",
            {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert props["Other"] == {"Fn::GetAtt": ["X", "Arn"]}
    assert props["Cond"] == {"Condition": "C"}
    assert props["Enc"] == {"Fn::Base64": {"Fn::Sub": "x"}}
