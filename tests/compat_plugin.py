"""Records the outcome of every test marked `compat(client, feature)` for the README's
compatibility table (scripts/compat_table.py loads this plugin; `make test` does not)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

#: where the outcomes go, one JSON object (set by scripts/compat_table.py)
OUTCOMES_ENV = "MODELYARD_COMPAT_OUTCOMES"
_rows: dict[str, list[tuple[str, str]]] = {}
_outcomes: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marks = [(m.args[0], m.args[1]) for m in item.iter_markers("compat")]
        if marks:
            _rows[item.nodeid] = marks


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid not in _rows:
        return
    if report.when == "call" or report.outcome != "passed":
        worst = {"failed": 2, "skipped": 1, "passed": 0}
        now = _outcomes.get(report.nodeid, "passed")
        _outcomes[report.nodeid] = max(now, report.outcome, key=worst.__getitem__)


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get(OUTCOMES_ENV)
    if not path:
        return
    rows: list[dict[str, Any]] = [
        {"client": client, "feature": feature, "test": nodeid, "outcome": _outcomes.get(nodeid)}
        for nodeid, marks in _rows.items()
        for client, feature in marks
    ]
    Path(path).write_text(json.dumps(rows, indent=1))
