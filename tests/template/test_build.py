"""Every function is built by functions/Makefile (wheels, code, .pyc files): the template asks
for the makefile build method on each, and the Makefile has each one's target.

`make -n` prints the recipe without running it: no pip, no network. The build itself runs in
`make bench` (package and coldstart sections), which times a cold start from its output.
"""

from __future__ import annotations

import subprocess
from typing import Any

from template_support import ROOT


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_every_function_is_built_by_the_makefile(template: dict[str, Any]) -> None:
    functions = _functions(template)
    assert functions
    for name, resource in functions.items():
        assert resource.get("Metadata", {}).get("BuildMethod") == "makefile", name
        recipe = subprocess.run(
            ["make", "-n", "-C", str(ROOT / "functions"), f"build-{name}", "ARTIFACTS_DIR=/x"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "pip install" in recipe and "compileall" in recipe, name
        assert "--invalidation-mode unchecked-hash" in recipe, name


def test_the_build_targets_the_template_runtime_and_architecture(
    template: dict[str, Any],
) -> None:
    function_globals = template["Globals"]["Function"]
    makefile = (ROOT / "functions" / "Makefile").read_text()
    runtime = function_globals["Runtime"].removeprefix("python")
    assert f"RUNTIME_PYTHON ?= {runtime}\n" in makefile
    assert function_globals["Architectures"] == ["arm64"]
    assert "WHEEL_PLATFORM ?= manylinux2014_aarch64\n" in makefile
