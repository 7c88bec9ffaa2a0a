"""LiteLLM lives in its own venv (`bench/.venv-litellm`), never in the project's.

Created by the benchmark on first use; if it cannot be created (no package index), the
LiteLLM rows are skipped with the reason instead of failing the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from common import BENCH, OUT, log

VENV = BENCH / ".venv-litellm"
PYTHON = VENV / "bin" / "python"
REQUIREMENT = "litellm[proxy]>=1.50,<2"
#: never fetch the model cost map from the internet (import would wait on it)
ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOG": "ERROR",
    "LITELLM_TELEMETRY": "False",
    "DISABLE_SCHEMA_UPDATE": "True",
}


def _installed() -> bool:
    if not PYTHON.exists():
        return False
    probe = subprocess.run(
        [str(PYTHON), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return probe.returncode == 0


def ensure() -> tuple[str | None, str]:
    """(python of the LiteLLM venv, its version) or (None, why not)."""
    if not _installed():
        OUT.mkdir(parents=True, exist_ok=True)
        install_log = OUT / "litellm-install.log"
        log(f"creating {VENV.relative_to(BENCH.parent)} with {REQUIREMENT} (first run only)")
        started = time.monotonic()
        with install_log.open("w") as out:
            steps = [
                [sys.executable, "-m", "venv", str(VENV)],
                [str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                [str(PYTHON), "-m", "pip", "install", "--quiet", REQUIREMENT],
            ]
            for step in steps:
                try:
                    done = subprocess.run(step, stdout=out, stderr=out, timeout=900)
                except subprocess.TimeoutExpired:
                    return None, f"LiteLLM install timed out (see {install_log})"
                if done.returncode != 0:
                    return None, f"LiteLLM could not be installed (see {install_log})"
        log(f"LiteLLM installed in {time.monotonic() - started:.0f} s")
        if not _installed():
            return None, f"LiteLLM install did not take (see {install_log})"
    version = subprocess.run(
        [str(PYTHON), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **ENV},
    ).stdout.strip()
    return str(PYTHON), version
