"""The durable fallback state machine's definition: its Retry comes from the retry policy.

`infra/statemachine/fallback.asl.json` is the definition the template deploys and the local
stack runs. The Attempt state's `Retry` is `RetryPolicy.to_asl()`, written into the file by
`scripts/render_statemachine.py` and checked by tests/template, so the in-process executor
and the state machine retry alike. Tests render the same definition with a faster policy.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from modelyard.resilience.retry import DEFAULT_RETRY_POLICY, RetryPolicy

#: functions/modelyard/resilience/statemachine.py -> the repository's infra/statemachine/
DEFINITION_PATH = (
    Path(__file__).resolve().parents[3] / "infra" / "statemachine" / "fallback.asl.json"
)
#: the Task state that invokes ProviderAttempt
ATTEMPT_STATE = "Attempt"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


#: Lambda's own transient failures of an invoke, retried as AWS recommends for every
#: lambda:invoke Task (the function did not run, or its answer was lost: safe to run again)
LAMBDA_SERVICE_RETRY: dict[str, Any] = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    "IntervalSeconds": 1,
    "MaxAttempts": 3,
    "BackoffRate": 2.0,
    "JitterStrategy": "FULL",
    "MaxDelaySeconds": 8,
}


def with_retry(
    definition: dict[str, Any], policy: RetryPolicy = DEFAULT_RETRY_POLICY
) -> dict[str, Any]:
    """A copy of `definition` whose Attempt state retries as `policy` says, and Lambda's own
    transient errors as AWS recommends."""
    out = copy.deepcopy(definition)
    out["States"][ATTEMPT_STATE]["Retry"] = [*policy.to_asl(), LAMBDA_SERVICE_RETRY]
    return out


def render(definition: dict[str, Any]) -> str:
    """The file's text for `definition` (stable formatting, so the check can compare text)."""
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"


def placeholders(text: str) -> set[str]:
    """The `${Name}` DefinitionSubstitutions a definition expects."""
    return set(_PLACEHOLDER.findall(text))


def substitute(text: str, values: dict[str, str]) -> str:
    """`text` with every `${Name}` replaced, as CloudFormation's DefinitionSubstitutions do."""
    missing = placeholders(text) - set(values)
    if missing:
        raise KeyError(f"no value for {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def load_definition(
    values: dict[str, str],
    policy: RetryPolicy | None = None,
    path: Path = DEFINITION_PATH,
) -> str:
    """The deployable definition: substituted, and re-rendered with `policy` when given."""
    text = path.read_text()
    if policy is not None:
        text = render(with_retry(json.loads(text), policy))
    return substitute(text, values)
