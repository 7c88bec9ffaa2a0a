"""The fallback state machine's definition: its Retry is the retry policy, and its loop is sound.

One source of truth: the Attempt state's Retry must equal DEFAULT_RETRY_POLICY.to_asl(), as
scripts/render_statemachine.py writes it. That it runs is shown under moto's executor by
tests/integration/test_durable_jobs.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelyard.providers.errors import RETRYABLE, ErrorKind
from modelyard.resilience.retry import DEFAULT_RETRY_POLICY
from modelyard.resilience.statemachine import (
    ATTEMPT_STATE,
    DEFINITION_PATH,
    LAMBDA_SERVICE_RETRY,
    render,
    substitute,
    with_retry,
)


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return dict(json.loads(DEFINITION_PATH.read_text()))


def test_file_is_rendered_from_the_retry_policy(definition: dict[str, Any]) -> None:
    assert DEFINITION_PATH.read_text() == render(with_retry(definition)), (
        "infra/statemachine/fallback.asl.json is out of date: run scripts/render_statemachine.py"
    )
    retry = definition["States"][ATTEMPT_STATE]["Retry"]
    assert retry == [*DEFAULT_RETRY_POLICY.to_asl(), LAMBDA_SERVICE_RETRY]


def test_retry_names_only_retryable_taxonomy_errors_and_lambdas_own(
    definition: dict[str, Any],
) -> None:
    *retry, lambdas = definition["States"][ATTEMPT_STATE]["Retry"]
    names = {name for retrier in retry for name in retrier["ErrorEquals"]}
    assert names == {kind.value for kind in RETRYABLE}
    # AWS's advice for every lambda:invoke Task: retry the service's own transient errors
    assert set(lambdas["ErrorEquals"]) == {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }
    assert names <= {kind.value for kind in ErrorKind}
    for retrier in [*retry, lambdas]:
        assert retrier["JitterStrategy"] == "FULL"
        assert isinstance(retrier["IntervalSeconds"], int) and retrier["IntervalSeconds"] >= 1
        assert retrier["MaxDelaySeconds"] >= retrier["IntervalSeconds"]


def test_attempt_invokes_the_function_and_catches_into_the_next_candidate(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    attempt = states[ATTEMPT_STATE]
    assert attempt["Resource"] == "arn:aws:states:::lambda:invoke"
    assert attempt["Parameters"]["FunctionName"] == "${ProviderAttemptFunctionArn}"
    # a pointer to the job item, never the request itself (the state's limit is 256 KiB)
    assert set(attempt["Parameters"]["Payload"]) == {"job_id.$", "model.$", "day.$"}
    upstream, other = attempt["Catch"]
    # an upstream error was recorded, priced, by the function: straight on to the next candidate
    assert upstream["ErrorEquals"] == [kind.value for kind in ErrorKind]
    assert upstream["Next"] == "NextCandidate" and upstream["ResultPath"] == "$.error"
    # anything else (the function crashed or timed out) is recorded here, then on
    assert other["ErrorEquals"] == ["States.ALL"] and other["ResultPath"] == "$.error"
    assert states[other["Next"]]["Next"] == "NextCandidate"
    assert states["NextCandidate"]["Next"] == "HasCandidate"
    assert states["HasCandidate"]["Default"] == "RecordFailure"
    assert attempt["Next"] == "RecordSuccess"


def test_each_outcome_publishes_exactly_one_usage_event(definition: dict[str, Any]) -> None:
    states = definition["States"]

    def path_from(name: str) -> list[str]:
        seen = []
        while name:
            seen.append(name)
            name = states[name].get("Next", "")
        return seen

    for start, status in (("RecordSuccess", "ok"), ("RecordFailure", "failed")):
        hand_offs = [
            s
            for s in path_from(start)
            if states[s].get("Parameters", {}).get("FunctionName") == "${JobUsageFunctionArn}"
        ]
        (hand_off,) = hand_offs
        assert states[hand_off]["Parameters"]["Payload"] == {"state.$": "$", "status": status}
        assert not any("sqs:" in states[s].get("Resource", "") for s in path_from(start))
    assert states[path_from("RecordFailure")[-1]]["Type"] == "Fail"


def test_jsonpath_only(definition: dict[str, Any]) -> None:
    # moto's executor has no JSONata
    assert definition.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert all(
        s.get("QueryLanguage", "JSONPath") == "JSONPath" for s in definition["States"].values()
    )


def test_substitute_refuses_a_missing_value() -> None:
    with pytest.raises(KeyError, match="JobUsageFunctionArn"):
        substitute(
            DEFINITION_PATH.read_text(), {"ProviderAttemptFunctionArn": "a", "UsageTableName": "t"}
        )
