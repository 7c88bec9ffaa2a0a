"""The README's client compatibility table, from the end-to-end tests that exercise each row.

Runs every test marked `compat(client, feature)` (tests/compat_plugin.py records them) and
prints one row per client and feature: pass only when every test of the row passed.
`--write` puts the table in README.md between its compat markers.

    .venv/bin/python scripts/compat_table.py --write
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.compat_plugin import OUTCOMES_ENV  # noqa: E402
from tests.e2e.test_node_sdk import NODE_PACKAGE  # noqa: E402

START, END = "<!-- compat:start -->", "<!-- compat:end -->"
STATUS = {"passed": "works", "failed": "**fails**", "skipped": "not run (skipped)", None: "?"}


def client_versions() -> dict[str, str]:
    return {
        "openai (Python)": version("openai"),
        "openai-agents (Python)": version("openai-agents"),
        "anthropic (Python)": version("anthropic"),
        "openai (Node)": NODE_PACKAGE.split("@", 1)[1],
    }


def outcomes() -> list[dict[str, str | None]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "outcomes.json"
        command = [sys.executable, "-m", "pytest", "-m", "compat", "-p", "tests.compat_plugin"]
        subprocess.run(command, cwd=ROOT, env={**os.environ, OUTCOMES_ENV: str(path)})
        return list(json.loads(path.read_text()))


def table(rows: list[dict[str, str | None]]) -> str:
    versions = client_versions()
    grouped: dict[tuple[str, str], list[str | None]] = {}
    for row in rows:
        grouped.setdefault((str(row["client"]), str(row["feature"])), []).append(row["outcome"])
    lines = ["| client | version | feature | status | tests |", "|---|---|---|---|---|"]
    for (client, feature), results in sorted(grouped.items()):
        worst = next((o for o in ("failed", None, "skipped") if o in results), "passed")
        lines.append(
            f"| {client} | {versions.get(client, '')} | {feature} | {STATUS[worst]} "
            f"| {len(results)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md")
    text = table(outcomes())
    if not parser.parse_args().write:
        print(text)
        return
    readme = ROOT / "README.md"
    before, rest = readme.read_text().split(START, 1)
    after = rest.split(END, 1)[1]
    readme.write_text(f"{before}{START}\n{text}\n{END}{after}")
    print(text)


if __name__ == "__main__":
    main()
