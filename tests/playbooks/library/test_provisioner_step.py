"""The deploy module's proxy phase when two first deploys on one server run at once, without a server."""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import pytest

from provisioner.config import Settings

MODULE = Settings().resolved_playbooks_dir / "library" / "provisioner_step.py"
PROXY = {
    "name": "prv-proxy-srv_a", "network": "prv-proxy-srv_a", "dir": "/srv/proxy",
    "data_volume": "prv-proxy-data",
    "published_ports": ["192.0.2.1:443:443"], "labels": {"org.provisioner.proxy": "srv_a"},
    "image": "registry.example/provisioner/proxy:1",
}  # fmt: skip


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("provisioner_step", MODULE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Failed(Exception):
    pass


class AnsibleStandIn:
    def fail_json(self, **result: Any) -> None:
        raise Failed(result["msg"])


class DockerAfterAnotherRun:
    """Docker as a run sees it when a run beside it made the proxy (or its network) a moment before:
    not there when asked, there once ``run``/``create`` failed on the name; ``label`` is what that
    other run put on the container."""

    def __init__(self, step: ModuleType, label: str | None) -> None:
        self.step, self.label, self.made = step, label, False
        self.calls: list[tuple[str, ...]] = []

    def run(self, *args: str, check: bool = True) -> tuple[int, str]:
        self.calls.append(args)
        if args[0] in ("run", "network") and args[1] in ("--detach", "create"):
            self.made = True  # by the other run, just before this one
            if check:
                raise Failed(f"docker {' '.join(args[:2])}: Conflict. The name is already in use")
            return 125, ""
        return 0, ""

    def inspect(self, kind: str, name: str) -> dict[str, Any] | None:
        if kind == "image":
            return {"Id": "sha256:proxy"}
        if not self.made:
            return None
        labels = {} if self.label is None else {self.step.CONFIG_LABEL: self.label}
        return {"Config": {"Labels": labels}, "Image": "sha256:proxy", "State": {"Running": True}}

    def create(self, kind: str, name: str, labels: dict[str, str]) -> bool:
        return bool(self.step.Docker.create(self, kind, name, labels))


def _wanted(step: ModuleType) -> str:
    """The configuration label this run would put on the proxy, read from the command it tried."""
    docker = DockerAfterAnotherRun(step, label="")
    with pytest.raises(Failed):
        step.proxy_container(AnsibleStandIn(), docker, PROXY, [])
    flag = next(a for a in docker.calls[0] if a.startswith(f"--label={step.CONFIG_LABEL}="))
    return flag.split("=", 2)[2]


def test_a_proxy_the_other_run_made_the_same_way_is_taken() -> None:
    step = _module()
    docker = DockerAfterAnotherRun(step, label=_wanted(step))
    assert step.proxy_container(AnsibleStandIn(), docker, PROXY, []) is True
    assert [c[0] for c in docker.calls] == ["run"], "tried once, found it made, no second attempt"


def test_a_container_of_the_name_made_otherwise_still_fails_in_dockers_words() -> None:
    step = _module()
    with pytest.raises(Failed, match="already in use"):
        step.proxy_container(AnsibleStandIn(), DockerAfterAnotherRun(step, label="something else"), PROXY, [])


def test_a_network_the_other_run_made_is_taken_as_made() -> None:
    step = _module()
    docker = DockerAfterAnotherRun(step, label=None)
    assert docker.create("network", "prv-proxy-srv_a", {"org.provisioner.proxy": "srv_a"}) is False
    assert docker.made
