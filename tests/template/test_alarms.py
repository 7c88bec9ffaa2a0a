"""Alarms and dashboard: wired to parameters and to the metric names the code emits.

moto stores alarms without evaluating them and never turns EMF into metrics, so what can be
checked here is that the definitions are right: namespace, names and dimensions equal the
constants in modelyard/usage/metric_names.py, thresholds come from parameters, actions go to
the alerts topic, and the dashboard (source of truth: infra/dashboards/main.json) uses only
metrics that exist.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sync_dashboard import render
from template_support import DASHBOARD_PATH, TEMPLATE_PATH

from modelyard.usage import metric_names as m

#: every metric name the code emits
EMITTED = {
    value
    for name, value in vars(m).items()
    if name.isupper()
    and isinstance(value, str)
    and name not in {"NAMESPACE", "SERVICE"}
    and not name.startswith("DIM_")
}
DIMENSIONS = {m.DIM_SERVICE, m.DIM_MODEL, m.DIM_PROVIDER, m.DIM_TASK, m.DIM_SCOPE}
ALARMS = (
    "DailySpendAlarm",
    "ApiErrorRateAlarm",
    "UsageDeadLetterAlarm",
    "CostAggregatorErrorsAlarm",
    "FallbackExecutionsFailedAlarm",
    "BudgetAlarm",
    "SpendAnomalyAlarm",
)

_SEARCH = re.compile(
    r"SEARCH\('\{(?P<namespace>[^,}]+),(?P<dims>[^}]*)\}\s+MetricName=\"(?P<name>[^\"]+)\"',"
    r"\s*'(?P<stat>[^']+)',\s*(?P<period>\d+)\)"
)


def _alarm(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    resource = template["Resources"][logical_id]
    assert resource["Type"] == "AWS::CloudWatch::Alarm"
    return resource["Properties"]


# ------------------------------------------------------------------ alarms


def test_daily_spend_alarm(template: dict[str, Any]) -> None:
    alarm = _alarm(template, "DailySpendAlarm")
    assert alarm["Namespace"] == m.NAMESPACE
    assert alarm["MetricName"] == m.COST_USD
    assert alarm["Dimensions"] == [{"Name": m.DIM_SERVICE, "Value": m.SERVICE}]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 86400
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["Threshold"] == {"Ref": "DailySpendAlarmUSD"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_api_error_rate_alarm(template: dict[str, Any]) -> None:
    alarm = _alarm(template, "ApiErrorRateAlarm")
    assert alarm["Threshold"] == {"Ref": "ErrorRateAlarmPercent"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    (returned,) = [q for q in queries.values() if q.get("ReturnData", True)]
    # the returned series is a percentage of the 5XXError average (the error fraction)
    assert returned["Expression"].replace(" ", "") == "100*errors"
    stat = queries["errors"]["MetricStat"]
    assert stat["Stat"] == "Average"
    assert stat["Metric"]["Namespace"] == "AWS/ApiGateway"
    assert stat["Metric"]["MetricName"] == "5XXError"
    # REST API metrics are keyed by the API's *name* and the stage
    dims = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
    assert dims == {
        "ApiName": template["Resources"]["Api"]["Properties"]["Name"],
        "Stage": {"Ref": "Stage"},
    }


def test_dead_letter_alarm(template: dict[str, Any]) -> None:
    alarm = _alarm(template, "UsageDeadLetterAlarm")
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["UsageDeadLetterQueue", "QueueName"]}}
    ]
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_aggregator_errors_alarm(template: dict[str, Any]) -> None:
    alarm = _alarm(template, "CostAggregatorErrorsAlarm")
    assert alarm["Namespace"] == "AWS/Lambda"
    assert alarm["MetricName"] == "Errors"
    assert alarm["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": "CostAggregatorFunction"}}
    ]
    assert alarm["Statistic"] == "Sum"


def test_fallback_executions_failed_alarm(template: dict[str, Any]) -> None:
    alarm = _alarm(template, "FallbackExecutionsFailedAlarm")
    assert alarm["Namespace"] == "AWS/States"
    assert alarm["MetricName"] == "ExecutionsFailed"
    assert alarm["Dimensions"] == [
        {"Name": "StateMachineArn", "Value": {"Ref": "FallbackStateMachine"}}
    ]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_budget_alarm_watches_every_budgeted_scope(template: dict[str, Any]) -> None:
    alarm = _alarm(template, "BudgetAlarm")
    [query] = alarm["Metrics"]
    assert query["Expression"].strip() == (
        f'SELECT MAX({m.BUDGET_USED_PERCENT}) FROM SCHEMA("{m.NAMESPACE}", '
        f"{m.DIM_SCOPE}, {m.DIM_SERVICE})"
    )
    assert alarm["Threshold"] == {"Ref": "BudgetAlarmPercent"}
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_spend_anomaly_alarm_uses_a_band_over_hourly_spend(template: dict[str, Any]) -> None:
    alarm = _alarm(template, "SpendAnomalyAlarm")
    spend, band = alarm["Metrics"]
    metric = spend["MetricStat"]["Metric"]
    assert (metric["Namespace"], metric["MetricName"]) == (m.NAMESPACE, m.COST_USD)
    assert metric["Dimensions"] == [{"Name": m.DIM_SERVICE, "Value": m.SERVICE}]
    assert spend["MetricStat"]["Stat"] == "Sum" and spend["MetricStat"]["Period"] == 3600
    assert band["Expression"] == {"Fn::Sub": "ANOMALY_DETECTION_BAND(spend, ${SpendAnomalyBand})"}
    assert alarm["ThresholdMetricId"] == "band"
    assert alarm["ComparisonOperator"] == "GreaterThanUpperThreshold"


@pytest.mark.parametrize("logical_id", ALARMS)
def test_alarms_notify_the_alerts_topic(template: dict[str, Any], logical_id: str) -> None:
    alarm = _alarm(template, logical_id)
    assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]
    assert alarm["TreatMissingData"] == "notBreaching"


def test_every_alarm_is_listed(template: dict[str, Any]) -> None:
    alarms = {
        lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert alarms == set(ALARMS)


def test_alert_email_subscription_is_optional(template: dict[str, Any]) -> None:
    assert template["Parameters"]["AlertEmail"]["Default"] == ""
    subscription = template["Resources"]["AlertsEmailSubscription"]
    assert subscription["Condition"] == "HasAlertEmail"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlertsTopic"}


def test_powertools_namespace_and_service_match_the_alarms(template: dict[str, Any]) -> None:
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == m.NAMESPACE
    assert env["POWERTOOLS_SERVICE_NAME"] == m.SERVICE


# ------------------------------------------------------------------ dashboard


def _template_dashboard_text(template: dict[str, Any]) -> str:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    assert set(body) == {"Fn::Sub"} and isinstance(body["Fn::Sub"], str)
    return str(body["Fn::Sub"])


def _dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD_PATH.read_text()))


def test_template_dashboard_is_the_json_file(template: dict[str, Any]) -> None:
    in_template = json.loads(_template_dashboard_text(template))
    assert in_template == _dashboard(), (
        "template.yaml's DashboardBody differs from infra/dashboards/main.json (the source of "
        "truth): run `python tests/template/sync_dashboard.py`"
    )
    # and the sync tool would leave the template as it is
    text = TEMPLATE_PATH.read_text()
    assert render(text, DASHBOARD_PATH.read_text()) == text


def test_dashboard_placeholders_name_real_things(template: dict[str, Any]) -> None:
    text = _template_dashboard_text(template)
    known = set(template["Resources"]) | set(template["Parameters"])
    for placeholder in re.findall(r"\$\{([^}]+)\}", text):
        if placeholder.startswith("AWS::"):
            continue
        assert placeholder.split(".")[0] in known, placeholder


def _modelyard_metrics(dashboard: dict[str, Any]) -> list[tuple[str, tuple[str, ...], str]]:
    """(metric name, dimension names, stat) for every Modelyard metric on the dashboard."""
    found: list[tuple[str, tuple[str, ...], str]] = []
    for widget in dashboard["widgets"]:
        props = widget["properties"]
        for row in props.get("metrics", []):
            options = row[-1] if row and isinstance(row[-1], dict) else {}
            if "expression" in options:
                for match in _SEARCH.finditer(options["expression"]):
                    if match["namespace"] == m.NAMESPACE:
                        dims = tuple(d.strip() for d in match["dims"].split(","))
                        found.append((match["name"], dims, match["stat"]))
                continue
            values = [v for v in row if isinstance(v, str)]
            if values and values[0] == m.NAMESPACE:
                stat = options.get("stat", props.get("stat", "Average"))
                found.append((values[1], tuple(values[2::2]), stat))
    return found


def test_dashboard_uses_only_emitted_metrics() -> None:
    dashboard = _dashboard()
    found = _modelyard_metrics(dashboard)
    assert found, "the dashboard shows no Modelyard metric"
    for name, dims, _stat in found:
        assert name in EMITTED, name
        assert set(dims) <= DIMENSIONS, (name, dims)
        assert m.DIM_SERVICE in dims, (name, dims)
    # no `"."` / `"..."` shorthand: every metric row spells out its namespace
    for widget in dashboard["widgets"]:
        for row in widget["properties"].get("metrics", []):
            assert "." not in row and "..." not in row, row


def test_dashboard_shows_what_operators_need() -> None:
    found = set(_modelyard_metrics(_dashboard()))
    by_model = (m.DIM_MODEL, m.DIM_SERVICE)
    assert (m.COST_USD, by_model, "Sum") in found
    assert (m.REQUESTS, by_model, "Sum") in found
    assert (m.LATENCY_MS, by_model, "p50") in found
    assert (m.LATENCY_MS, by_model, "p99") in found
    assert (m.UPSTREAM_ERRORS, (m.DIM_PROVIDER, m.DIM_SERVICE), "Sum") in found
    assert (m.COST_USD, (m.DIM_SERVICE, m.DIM_TASK), "Sum") in found
    assert (m.BUDGET_USED_PERCENT, (m.DIM_SCOPE, m.DIM_SERVICE), "Maximum") in found
    rows = [row for w in _dashboard()["widgets"] for row in w["properties"].get("metrics", [])]
    dlq_depth = [
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "${UsageDeadLetterQueue.QueueName}",
    ]
    assert any(row[:4] == dlq_depth for row in rows), "no DLQ depth on the dashboard"
