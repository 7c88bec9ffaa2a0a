"""Deployment modes: template.yaml as is (on-demand), or with the router on Lambda Managed
Instances (infra/managed-instances.json merged in: a capacity provider, Python 3.13, many
requests per execution environment)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from modelyard.local.tables import load_template

Deployment = Literal["on-demand", "managed-instances"]
OVERLAY = Path(__file__).resolve().parents[2] / "infra" / "managed-instances.json"


def overlay() -> dict[str, Any]:
    return json.loads(OVERLAY.read_text())


def template(deployment: Deployment, template_path: Path | None = None) -> dict[str, Any]:
    """The SAM template of `deployment`, as a dict (CloudFormation's JSON form)."""
    found = load_template(template_path)
    if deployment == "managed-instances":
        extra = overlay()
        found.setdefault("Parameters", {}).update(extra["Parameters"])
        found["Resources"].update(extra["Resources"])
        found["Resources"]["RouterFunction"]["Properties"].update(extra["RouterFunction"])
    return found
