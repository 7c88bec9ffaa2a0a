"""Copy infra/dashboards/main.json into template.yaml's Dashboard body.

The JSON file is the source of truth for the CloudWatch dashboard; CloudFormation cannot read a
file, so the template carries a copy inside `DashboardBody: !Sub |`. `test_alarms.py` fails when
the two differ; run `python tests/template/sync_dashboard.py` from the repository root to fix it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
DASHBOARD = ROOT / "infra" / "dashboards" / "main.json"

# The block scalar after `DashboardBody: !Sub |`, up to the next line indented less than it.
_BLOCK = re.compile(
    r"(?P<head>^(?P<indent> +)DashboardBody: !Sub \|\n)"
    r"(?P<body>(?:(?P=indent)  .*\n|\n(?=(?P=indent)  ))+)",
    re.MULTILINE,
)


def render(template_text: str, dashboard_text: str) -> str:
    """The template text with its dashboard block replaced by `dashboard_text`."""
    match = _BLOCK.search(template_text)
    if match is None:
        raise SystemExit("template.yaml has no `DashboardBody: !Sub |` block")
    pad = match["indent"] + "  "
    body = "".join(pad + line if line.strip() else "\n" for line in dashboard_text.splitlines(True))
    if not body.endswith("\n"):
        body += "\n"
    return template_text[: match.start("body")] + body + template_text[match.end("body") :]


def main() -> int:
    text = TEMPLATE.read_text()
    new = render(text, DASHBOARD.read_text())
    if new != text:
        TEMPLATE.write_text(new)
        print(f"updated {TEMPLATE.relative_to(ROOT)} from {DASHBOARD.relative_to(ROOT)}")
    else:
        print("template.yaml dashboard is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
