"""The lock files scripts/run and scripts/test install from: every dependency pyproject.toml names is
pinned there in a version it allows, with the hashes of its files; what runs is what the tests ran on.
A dependency added to pyproject.toml without `scripts/lock` fails here, not on a fresh machine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")


def _pins(name: str) -> dict[str, str]:
    """Package -> version, after checking that every pin carries at least one hash."""
    lines = (ROOT / "requirements" / name).read_text().splitlines()
    pins: dict[str, str] = {}
    for number, line in enumerate(lines):
        if not line or line.startswith((" ", "#")):
            continue
        found = PIN.match(line)
        assert found, f"{name}:{number + 1}: not a pinned requirement: {line}"
        assert lines[number + 1].strip().startswith("--hash=sha256:"), f"{name}:{number + 1}: no hash"
        pins[canonicalize_name(found.group(1))] = found.group(2)
    return pins


def _unmet(requirements: list[str], pins: dict[str, str]) -> list[str]:
    unmet = []
    for text in requirements:
        wanted = Requirement(text)
        if wanted.marker is not None and not wanted.marker.evaluate():
            continue
        version = pins.get(canonicalize_name(wanted.name))
        if version is None or not wanted.specifier.contains(version, prereleases=True):
            unmet.append(f"{text} (locked: {version})")
    return unmet


@pytest.mark.parametrize(
    ("lock", "groups"), [("runtime.txt", ["dependencies"]), ("test.txt", ["dependencies", "test", "lint"])]
)
def test_every_dependency_is_locked_in_a_version_it_allows(lock: str, groups: list[str]) -> None:
    extras = PROJECT["optional-dependencies"]
    wanted = [r for group in groups for r in (PROJECT[group] if group == "dependencies" else extras[group])]
    assert _unmet(wanted, _pins(lock)) == [], "run scripts/lock"


def test_the_runtime_runs_on_what_the_tests_ran_on_without_the_tools() -> None:
    runtime, test = _pins("runtime.txt"), _pins("test.txt")
    assert {name: test.get(name) for name in runtime} == runtime
    assert "ansible-lint" not in runtime
