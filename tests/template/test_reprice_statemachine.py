"""The reprice state machine's definition agrees with the code it calls and the item it keeps.

That it runs (pages, Retry, the summary) is shown under moto's executor by
tests/integration/test_reprice.py; here: the file's shape, its names and its loop.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from modelyard.local.durable import REPRICE_DEFINITION_PATH
from modelyard.pricing import reprice
from modelyard.resilience.statemachine import render

PAGE_STATE = "RepricePage"


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return dict(json.loads(REPRICE_DEFINITION_PATH.read_text()))


def machines(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The definition and every Map's item processor in it."""
    yield definition
    for state in definition["States"].values():
        if state["Type"] == "Map":
            yield from machines(state["ItemProcessor"])


def all_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for m in machines(definition) for name, s in m["States"].items()}


def test_file_is_in_the_rendered_form(definition: dict[str, Any]) -> None:
    # the same formatting as the fallback definition, so diffs stay readable
    assert REPRICE_DEFINITION_PATH.read_text() == render(definition)


def test_every_transition_names_a_state_of_its_machine(definition: dict[str, Any]) -> None:
    for machine in machines(definition):
        names = set(machine["States"])
        assert machine["StartAt"] in names
        reached = {machine["StartAt"]}
        for state in machine["States"].values():
            targets = [state.get("Next"), state.get("Default")]
            targets += [c["Next"] for c in state.get("Choices", [])]
            targets += [c["Next"] for c in state.get("Catch", [])]
            for target in filter(None, targets):
                assert target in names, target
                reached.add(target)
            assert (
                state.get("End")
                or "Next" in state
                or state["Type"]
                in (
                    "Choice",
                    "Succeed",
                    "Fail",
                )
            )
        assert reached == names, f"unreachable: {names - reached}"


def test_jsonpath_only(definition: dict[str, Any]) -> None:
    # moto's executor has no JSONata
    for machine in machines(definition):
        assert machine.get("QueryLanguage", "JSONPath") == "JSONPath"
        assert all(
            s.get("QueryLanguage", "JSONPath") == "JSONPath" for s in machine["States"].values()
        )


def test_page_calls_reprice_page_and_loops_on_its_cursor(definition: dict[str, Any]) -> None:
    states = all_states(definition)
    page = states[PAGE_STATE]
    assert page["Resource"] == "arn:aws:states:::lambda:invoke"
    assert page["Parameters"]["FunctionName"] == "${RepriceFunctionArn}"
    payload = page["Parameters"]["Payload"]
    assert {k.removesuffix(".$") for k in payload} == {"model", "day", "cursor", "job_id"}
    # the job id is the execution's name, as reprice.start_job names it
    assert payload["job_id.$"] == "$$.Execution.Name"
    # it reads what reprice_page returns
    selected = {v.removeprefix("$.Payload.") for v in page["ResultSelector"].values()}
    assert selected == {"cursor", "items", "delta_usd"}
    loop = states[page["Next"]]
    (choice,) = loop["Choices"]
    assert choice == {"Variable": "$.page.cursor", "IsNull": False, "Next": PAGE_STATE}
    assert states[loop["Default"]]["Type"] == "Succeed"


def test_pages_retry_transient_errors_with_backoff(definition: dict[str, Any]) -> None:
    states = all_states(definition)
    for name in (PAGE_STATE, "Days"):
        (retrier,) = states[name]["Retry"]
        assert reprice.TransientError.__name__ in retrier["ErrorEquals"]
        assert "Lambda.TooManyRequestsException" in retrier["ErrorEquals"]
        assert "States.ALL" not in retrier["ErrorEquals"]  # a bug is not retried six times
        assert retrier["IntervalSeconds"] >= 1 and retrier["BackoffRate"] >= 1
        assert retrier["JitterStrategy"] == "FULL"


def test_days_run_one_after_another(definition: dict[str, Any]) -> None:
    # every item's transaction also updates the one summary item: parallel days would conflict
    (each_day,) = [s for s in definition["States"].values() if s["Type"] == "Map"]
    assert each_day["MaxConcurrency"] == 1
    assert each_day["ItemsPath"] == "$.plan.days"
    days = definition["States"]["Days"]["Parameters"]["Payload"]
    assert days["action"] == "days"


def test_summary_item_is_the_one_the_pages_add_to(definition: dict[str, Any]) -> None:
    key = {"S": reprice.summary_key("JOB_ID")["sk"]["S"]}
    pk = reprice.summary_key("JOB_ID")["pk"]["S"].replace("JOB_ID", "{}")
    writes = [
        s for s in definition["States"].values() if s.get("Resource", "").endswith("updateItem")
    ]
    assert [w for w in writes if w["Next" if "Next" in w else "End"]]
    for write in writes:
        assert write["Parameters"]["TableName"] == "${UsageTableName}"
        assert write["Parameters"]["Key"] == {
            "pk": {"S.$": f"States.Format('{pk}', $$.Execution.Name)"},
            "sk": key,
        }
    start = definition["States"][definition["StartAt"]]
    assert (
        start in writes
        and "ADD items_repriced :zero, delta_usd :zero" in (start["Parameters"]["UpdateExpression"])
    )


def test_failures_are_recorded_then_fail(definition: dict[str, Any]) -> None:
    states = definition["States"]
    for name in ("Days", "EachDay"):
        (catch,) = states[name]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "RecordFailure"
    assert states[states["RecordFailure"]["Next"]]["Type"] == "Fail"
    assert states["EachDay"]["Next"] == "RecordSuccess" and states["RecordSuccess"]["End"]
