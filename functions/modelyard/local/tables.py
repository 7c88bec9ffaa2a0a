"""DynamoDB tables made from the same definitions the SAM template has.

`template.yaml` is the source of truth for the tables (keys, billing, TTL). The local stack
(`make run`) and the tests create their tables from it through this module, so local tables and
deployed ones cannot drift apart.

The template lives in the repository, not in the package: an installed wheel has no
`template.yaml` next to it, and these functions then say so (pass `template_path=`).
PyYAML is imported lazily; nothing here runs at import time.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

#: functions/modelyard/local/tables.py -> the repository root's template.yaml
DEFAULT_TEMPLATE_PATH = Path(__file__).resolve().parents[3] / "template.yaml"

#: The tables the code uses, by logical id in the template.
TABLE_LOGICAL_IDS = ("ConfigTable", "UsageTable")

_TABLE_TYPE = "AWS::DynamoDB::Table"
# CloudFormation table properties that map one to one onto `create_table` arguments.
_PASS_THROUGH = (
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
)


def load_template(template_path: Path | None = None) -> dict[str, Any]:
    """The SAM template as plain data, short-form tags turned into their long forms.

    `!Ref X` becomes `{"Ref": "X"}`, `!GetAtt A.B` becomes `{"Fn::GetAtt": ["A", "B"]}`,
    `!Sub s` becomes `{"Fn::Sub": "s"}`, and so on for every `!Tag`, which is what
    CloudFormation, cfn-lint and the SAM translator see. Returns a fresh copy on every call.
    """
    path = _resolve(template_path)
    return copy.deepcopy(_load_cached(str(path), path.stat().st_mtime_ns))


def table_definitions(template_path: Path | None = None) -> dict[str, dict[str, Any]]:
    """`create_table` keyword arguments per table logical id, without `TableName`.

    Only what the template says becomes an argument: key schema, attribute definitions,
    billing mode, and secondary indexes when there are any. The caller picks the table name.
    """
    resources = load_template(template_path).get("Resources", {})
    definitions: dict[str, dict[str, Any]] = {}
    for logical_id in TABLE_LOGICAL_IDS:
        props = _table_properties(resources, logical_id)
        kwargs = {key: props[key] for key in _PASS_THROUGH if key in props}
        stream = props.get("StreamSpecification")
        if stream:
            kwargs["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        definitions[logical_id] = kwargs
    return definitions


def ttl_attribute(logical_id: str, template_path: Path | None = None) -> str | None:
    """The TTL attribute the template enables on table `logical_id`, or None."""
    resources = load_template(template_path).get("Resources", {})
    spec = _table_properties(resources, logical_id).get("TimeToLiveSpecification") or {}
    if spec.get("Enabled") in (True, "true", "True") and spec.get("AttributeName"):
        return str(spec["AttributeName"])
    return None


def create_tables(
    dynamodb_client: Any,
    names: dict[str, str],
    template_path: Path | None = None,
) -> None:
    """Create the tables in `names` ({logical id: table name}) and enable their TTL.

    Idempotent: a table that already exists is left as it is (its TTL is still switched on if
    the template wants it and it is off), so `make run` can call this on every start.
    """
    definitions = table_definitions(template_path)
    unknown = sorted(set(names) - set(definitions))
    if unknown:
        raise KeyError(f"no table {unknown} in the template; known: {sorted(definitions)}")

    for logical_id, table_name in names.items():
        if not _table_exists(dynamodb_client, table_name):
            dynamodb_client.create_table(TableName=table_name, **definitions[logical_id])
            dynamodb_client.get_waiter("table_exists").wait(
                TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        attribute = ttl_attribute(logical_id, template_path)
        if attribute:
            _enable_ttl(dynamodb_client, table_name, attribute)


def _resolve(template_path: Path | None) -> Path:
    path = Path(template_path) if template_path is not None else DEFAULT_TEMPLATE_PATH
    if not path.is_file():
        raise FileNotFoundError(
            f"SAM template not found at {path}. The table definitions come from the "
            "repository's template.yaml, which an installed package does not include: "
            "run from a checkout or pass template_path=."
        )
    return path


@lru_cache(maxsize=4)
def _load_cached(path: str, _mtime_ns: int) -> dict[str, Any]:
    import yaml  # lazily: only the local stack and the tests need it

    class CloudFormationLoader(yaml.SafeLoader):
        """SafeLoader that also reads CloudFormation's short-form intrinsic tags."""

    def intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if tag_suffix == "Ref":
            return {"Ref": value}
        if tag_suffix == "Condition":
            return {"Condition": value}
        if tag_suffix == "GetAtt" and isinstance(value, str):
            resource, _, attribute = value.partition(".")
            return {"Fn::GetAtt": [resource, attribute]}
        return {f"Fn::{tag_suffix}": value}

    CloudFormationLoader.add_multi_constructor("!", intrinsic)
    with open(path, encoding="utf-8") as f:
        data = yaml.load(f, Loader=CloudFormationLoader)  # a SafeLoader subclass: safe
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a CloudFormation template (no mapping at the top)")
    return data


def _table_properties(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    resource = resources.get(logical_id)
    if not isinstance(resource, dict) or resource.get("Type") != _TABLE_TYPE:
        raise KeyError(f"template has no {_TABLE_TYPE} named {logical_id!r}")
    return dict(resource.get("Properties") or {})


def _table_exists(client: Any, table_name: str) -> bool:
    try:
        client.describe_table(TableName=table_name)
    except client.exceptions.ResourceNotFoundException:
        return False
    return True


def _enable_ttl(client: Any, table_name: str, attribute: str) -> None:
    current = client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
    )
