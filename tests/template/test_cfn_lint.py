"""cfn-lint, with the SAM transform, finds nothing in template.yaml: no error, no warning, and
no informational finding either.

Run as a library call (same rules and versions as `cfn-lint template.yaml` from the venv).
Experimental rules are left out: they change between releases and are not checks yet.
"""

from __future__ import annotations

from cfnlint.api import ManualArgs, lint_file
from template_support import TEMPLATE_PATH

# Where people deploy; cfn-lint checks resource availability and values per region.
REGIONS = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-northeast-1",
    "ap-southeast-2",
]


def test_cfn_lint_is_clean() -> None:
    matches = lint_file(TEMPLATE_PATH, config=ManualArgs(regions=REGIONS, include_checks=["I"]))
    assert [str(match) for match in matches] == []
