"""The Lambda Managed Instances variant of the template (modelyard.deployment) translates and
lints: the router gets a capacity provider, Python 3.13 and many requests per environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from modelyard.deployment import overlay, template
from tests.template.template_support import ROOT, translate_template


def test_the_managed_instances_router_runs_on_its_capacity_provider():
    resources = translate_template(template("managed-instances"))["Resources"]
    router = resources["RouterFunction"]["Properties"]
    config = router["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"]
    assert router["Runtime"] == "python3.13"
    assert "RouterCapacityProvider" in config["CapacityProviderArn"]["Fn::Sub"]
    wanted = overlay()["RouterFunction"]["CapacityProviderConfig"]
    assert (
        config["PerExecutionEnvironmentMaxConcurrency"]
        == wanted["PerExecutionEnvironmentMaxConcurrency"]
    )
    assert resources["RouterCapacityProvider"]["Type"] == "AWS::Lambda::CapacityProvider"


def test_the_on_demand_template_is_template_yaml_unchanged():
    resources = template("on-demand")["Resources"]
    assert "RouterCapacityProvider" not in resources
    assert "CapacityProviderConfig" not in resources["RouterFunction"]["Properties"]


def test_the_managed_instances_template_passes_cfn_lint(tmp_path: Path):
    # next to template.yaml in spirit: cfn-lint reads CodeUri paths relative to the file
    path = ROOT / f".template-managed-instances-{tmp_path.name}.json"
    path.write_text(json.dumps(template("managed-instances")))
    try:
        lint = Path(sys.executable).with_name("cfn-lint")
        done = subprocess.run([str(lint), str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        path.unlink()
