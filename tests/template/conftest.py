"""Fixtures for the template checks (helpers in template_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from template_support import TEMPLATE_PATH, Deployed, deploy_into_moto, translate

from modelyard.local.tables import load_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """template.yaml as data, short-form tags in their long forms."""
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    """The plain CloudFormation that the SAM transform makes of template.yaml."""
    return translate()


@pytest.fixture(scope="module")
def deployed(translated: dict[str, Any]) -> Iterator[Deployed]:
    """The translation deployed into moto (active for the module's tests)."""
    with deploy_into_moto(translated) as stack:
        yield stack
