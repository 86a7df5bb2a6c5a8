"""Helpers the fixtures share: how a missing part of the test bed is reported."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

TESTBED_HOW = "run `bash scripts/testbed/install.sh && bash scripts/testbed/start.sh` as root"


def need(what: str, how: str = TESTBED_HOW) -> NoReturn:
    """Stops the test for a missing part: CI must have everything, so there it fails instead of skipping."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} missing in CI: {how}", pytrace=False)
    pytest.skip(f"{what} missing: {how}")
