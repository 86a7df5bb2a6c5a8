"""The deploy module's proxy phase when two first deploys on one server run at once, without a server."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
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


class DockerThatRaces:
    """Docker as two runs on one server see it: a name looked up, then made a moment later, so two
    runs that both looked before either made it both make it (Docker does not refuse the second)."""

    def __init__(self, step: ModuleType) -> None:
        self.step = step
        self.made: list[tuple[str, str]] = []
        self.proxy: dict[str, Any] | None = None
        self.guard = threading.Lock()

    def labelled(self, path: str, label: str) -> list[dict[str, Any]]:
        return []

    def inspect(self, kind: str, name: str) -> dict[str, Any] | None:
        if kind == "image":
            return {"Id": "sha256:proxy"}
        if kind == "container":
            return self.proxy
        return {"Name": name} if (kind, name) in self.made else None

    def create(self, kind: str, name: str, labels: dict[str, str]) -> bool:
        return bool(self.step.Docker.create(self, kind, name, labels))

    def run(self, *args: str, check: bool = True) -> tuple[int, str]:
        if args[1] == "create":
            time.sleep(0.2)  # the other run looks now
            with self.guard:
                self.made.append((args[0], args[-1]))
        elif args[:2] == ("run", "--detach"):
            label = next(a for a in args if a.startswith(f"--label={self.step.CONFIG_LABEL}="))
            labels = {self.step.CONFIG_LABEL: label.split("=", 2)[2]}
            self.proxy = {"Config": {"Labels": labels}, "Image": "sha256:proxy", "State": {"Running": True}}
        return 0, ""


def test_two_first_deploys_at_once_make_one_proxy_folder_network_and_volume(tmp_path: Path) -> None:
    step, answers = _module(), []
    docker = DockerThatRaces(step)
    phase = {
        "proxy": {
            **PROXY,
            "dir": str(tmp_path / "proxy"),
            "address_label": "org.provisioner.address=192.0.2.1",
        },
        "contents": {"_proxy/Caddyfile": "import sites/*\n"},
    }
    runs = [
        threading.Thread(target=lambda: answers.append(step.proxy_phase(None, docker, phase))) for _ in "ab"
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert docker.made.count(("network", PROXY["network"])) == 1
    assert docker.made.count(("volume", PROXY["data_volume"])) == 1
    made_here = [f"network {PROXY['network']}" in answer["done"] for answer in answers]
    assert sorted(made_here) == [False, True], "the second run took the network the first made"


# --- the containers' phases -------------------------------------------------------------------------
CONTAINER = {
    "name": "prv-i1-web", "alias": "web", "image": "registry.example/homepage:1",
    "command": ["serve", "--port=80"],
    "mounts": [
        {"type": "volume", "source": "prv-i1-data", "target": "/data"},
        {"type": "bind", "source": "/srv/i1/site.conf", "target": "/etc/site.conf", "read_only": True},
    ],
    "env": {"TITLE": "Café; rm -rf /", "SHARED": "from the template"},
    "env_file": None, "memory": "256M", "cpus": 0.5,
    "published_ports": ["192.0.2.1:8443:8443/tcp", "[2001:db8::1]:3478:3478/udp"],
}  # fmt: skip


class DockerStandIn:
    """Docker Engine as the containers' phases see it: images by name, containers by name, each call kept."""

    def __init__(self, step: ModuleType, *, volumes: dict[str, Any] | None = None) -> None:
        self.step, self.binary, self.module = step, "docker", self
        self.images = {"registry.example/homepage:1": {"Id": "sha256:one", "Config": {"Volumes": volumes}}}
        self.containers: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.answers: list[tuple[int, str, str]] = []

    def inspect(self, kind: str, name: str) -> dict[str, Any] | None:
        return (self.images if kind == "image" else self.containers).get(name)

    def run(self, *args: str, check: bool = True) -> tuple[int, str]:
        self.calls.append(("run", " ".join(args)))
        self.images[args[-1]] = {"Id": "sha256:pulled", "Config": {}}
        return 0, ""

    def api(self, method: str, path: str, body: Any = None, **_: Any) -> dict[str, Any]:
        self.calls.append((method, path))
        if path == "/containers/create":
            self.containers[CONTAINER["name"]] = {
                "Id": "c2", "Config": {"Labels": body["Labels"]}, "State": {"Running": False}
            }  # fmt: skip
            return {"Id": "c2"}
        if path.endswith("/start"):
            next(iter(self.containers.values()))["State"]["Running"] = True
        return {}

    def run_command(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(("exec", " ".join(argv[2:])))
        return self.answers.pop(0)

    def fail_json(self, **result: Any) -> None:
        raise Failed(result["msg"])


def test_a_container_is_asked_of_the_api_with_its_env_file_under_the_templates_environment(
    tmp_path: Path,
) -> None:
    step = _module()
    env_file = tmp_path / "app.env"
    env_file.write_text("# the rendered file\nSECRET=s3cr=t with spaces\n\nSHARED=from the file\n")
    body = step.container_body(
        {**CONTAINER, "env_file": str(env_file)}, "prv-i1", {"org.provisioner.instance": "i1"}
    )
    assert body["Env"] == ["SECRET=s3cr=t with spaces", "SHARED=from the template", "TITLE=Café; rm -rf /"]
    assert body["Cmd"] == ["serve", "--port=80"]
    assert body["HostConfig"]["Memory"] == 256 * 1024 * 1024
    assert body["HostConfig"]["NanoCpus"] == 500_000_000
    assert body["HostConfig"]["PortBindings"] == {
        "8443/tcp": [{"HostIp": "192.0.2.1", "HostPort": "8443"}],
        "3478/udp": [{"HostIp": "2001:db8::1", "HostPort": "3478"}],
    }
    assert body["HostConfig"]["Mounts"][1] == {
        "Type": "bind", "Source": "/srv/i1/site.conf", "Target": "/etc/site.conf", "ReadOnly": True
    }  # fmt: skip
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"prv-i1": {"Aliases": ["web"]}}}


def test_an_env_file_line_without_a_value_fails_naming_the_container(tmp_path: Path) -> None:
    step = _module()
    (tmp_path / "app.env").write_text("NOT A SETTING\n")
    docker = DockerStandIn(step)
    with pytest.raises(Failed, match=r"web: .*app\.env: a line without '='"):
        step.start_phase(docker, docker, _start_params({**CONTAINER, "env_file": str(tmp_path / "app.env")}))


def _start_params(container: dict[str, Any]) -> dict[str, Any]:
    return {"containers": [container], "network": "prv-i1", "labels": {"org.provisioner.instance": "i1"}}


def test_start_creates_then_converges_starts_a_stopped_one_and_makes_a_changed_one_anew() -> None:
    step = _module()
    docker = DockerStandIn(step)
    assert step.start_phase(docker, docker, _start_params(CONTAINER))["done"] == ["created prv-i1-web"]
    assert docker.calls == [("POST", "/containers/create"), ("POST", "/containers/c2/start")]
    docker.calls.clear()
    assert step.start_phase(docker, docker, _start_params(CONTAINER)) == {"changed": False, "done": []}
    assert docker.calls == []
    docker.containers["prv-i1-web"]["State"]["Running"] = False
    assert step.start_phase(docker, docker, _start_params(CONTAINER))["done"] == ["started prv-i1-web"]
    docker.calls.clear()
    changed = {**CONTAINER, "env": {**CONTAINER["env"], "TITLE": "new"}}
    assert step.start_phase(docker, docker, _start_params(changed))["done"] == ["made anew prv-i1-web"]
    assert [c[1] for c in docker.calls] == [
        "/containers/c2/stop", "/containers/c2", "/containers/create", "/containers/c2/start"
    ]  # fmt: skip
    docker.calls.clear()
    docker.images[CONTAINER["image"]]["Id"] = "sha256:two"  # the tag now points at another image
    assert step.start_phase(docker, docker, _start_params(changed))["done"] == ["made anew prv-i1-web"]


def test_images_pulls_only_a_missing_image_and_refuses_an_unmounted_image_volume_by_name() -> None:
    step = _module()
    docker = DockerStandIn(step, volumes={"/data/": {}, "/cache": {}})
    with pytest.raises(Failed) as refused:
        step.images_phase(docker, docker, {"containers": [CONTAINER]})
    assert str(refused.value).startswith(
        "web: the image registry.example/homepage:1 keeps data in /cache, which the template does not mount"
    )
    assert docker.calls == [], "a present image is not pulled again"
    mounted = {
        **CONTAINER,
        "mounts": [*CONTAINER["mounts"], {"type": "volume", "source": "c", "target": "/cache/"}],
    }
    assert step.images_phase(docker, docker, {"containers": [mounted]}) == {"changed": False, "done": []}
    missing = {**CONTAINER, "image": "registry.example/other:2", "mounts": []}
    assert step.images_phase(docker, docker, {"containers": [missing]})["done"] == [
        "pulled registry.example/other:2"
    ]
    assert docker.calls == [("run", "pull --quiet registry.example/other:2")]


HEALTH = {
    "proxy": {"name": "prv-proxy"},
    "argv": ["curl", "https://site.example/"],
    "status": 200,
    "delay": 0,
}


def test_health_asks_again_on_the_server_until_the_status_then_each_component() -> None:
    step = _module()
    docker = DockerStandIn(step)
    docker.answers = [(7, "000", "refused"), (0, "502", ""), (0, "200", ""), (22, "", "503"), (0, "", "")]
    result = step.health_phase(
        docker, docker, {**HEALTH, "window": 60, "probes": [["curl", "http://db:8080/"]]}
    )
    assert result == {"changed": False, "answered": True}
    assert [c[1] for c in docker.calls] == ["prv-proxy curl https://site.example/"] * 3 + [
        "prv-proxy curl http://db:8080/"
    ] * 2


def test_health_says_when_its_window_is_over_so_the_task_calls_it_again() -> None:
    step = _module()
    docker = DockerStandIn(step)
    docker.answers = [(0, "503", "upstream down")]
    result = step.health_phase(
        docker, docker, {**HEALTH, "window": 0, "probes": [["curl", "http://db:8080/"]]}
    )
    said = "the service did not answer 200 through the proxy: 503 upstream down"
    assert result == {"changed": False, "answered": False, "msg": said}
    assert len(docker.calls) == 1, "one try, no component asked"


def test_a_space_removal_deletes_what_backups_left_also_when_its_route_is_gone(tmp_path: Path) -> None:
    step = _module()
    backup = tmp_path / "backup"
    (backup / "cache" / "ten_a" / ("c" * 64)).mkdir(parents=True)
    (backup / "pruned").mkdir()
    (backup / "pruned" / "spc_1").write_text("1765000000.0\n")
    kept = backup / "cache" / "ten_b"
    kept.mkdir()
    leftovers = [str(backup / "pruned" / "spc_1"), str(backup / "cache" / "ten_a"), str(backup / "nothing")]
    params = {
        "proxy": {**PROXY, "dir": str(tmp_path / "proxy")},
        "site_file": "spc_1.caddy",
        "leftovers": leftovers,
    }
    assert step.unroute_phase(AnsibleStandIn(), DockerStandIn(step), params) == {
        "changed": True,
        "done": leftovers[:2],
    }
    assert sorted(p.name for p in backup.rglob("*")) == ["cache", "pruned", "ten_b"]
    assert step.unroute_phase(AnsibleStandIn(), DockerStandIn(step), params) == {"changed": False, "done": []}


def test_the_phases_named_in_also_run_after_the_first_in_one_task() -> None:
    """A deploy's proxy, files, images, containers and route are one task: each phase in its order, its
    changes reported together, and the route reloads the proxy whose configuration the proxy phase changed."""
    step = _module()
    seen: list[tuple[str, bool]] = []

    def phase(name: str, outcome: dict[str, Any]) -> Any:
        def run(module: Any, docker: Any, p: dict[str, Any]) -> dict[str, Any]:
            seen.append((name, p["proxy_config_changed"]))
            return outcome

        return run

    step.PHASES.update(
        proxy=phase("proxy", {"changed": True, "done": ["configuration"], "config_changed": True}),
        start=phase("start", {"changed": False, "done": []}),
        route=phase("route", {"changed": True, "done": ["reloaded"]}),
    )
    params = {"phase": "proxy", "also": ["start", "route"], "proxy_config_changed": False}
    result = step.run_phases(None, None, params)
    assert seen == [("proxy", False), ("start", True), ("route", True)]
    assert result == {"changed": True, "done": ["configuration", "reloaded"], "config_changed": True}


class NothingLeftDocker:
    """Docker Engine where nothing carries the instance's label any more (a removal run again)."""

    def labelled(self, path: str, label: str) -> list[dict[str, Any]]:
        return []

    def api(self, method: str, path: str, body: Any = None, **more: Any) -> dict[str, Any]:
        return {"Volumes": None}

    def inspect(self, kind: str, name: str) -> None:
        return None


def test_a_removal_deletes_its_folder_and_what_backups_left_and_converges(tmp_path: Path) -> None:
    step = _module()
    folder, marker, cache = (
        tmp_path / "instances" / "ins_1",
        tmp_path / "pruned" / "ins_1",
        tmp_path / "ten_a",
    )
    for made in (folder, cache / ("0a" * 32)):
        made.mkdir(parents=True)
    marker.parent.mkdir()
    marker.write_text("1765000000.0\n")
    params = {
        "proxy": {**PROXY, "dir": str(tmp_path / "proxy")}, "label": "org.provisioner.instance=ins_1",
        "site_file": "ins_1.caddy", "instance_dir": str(folder), "leftovers": [str(marker), str(cache)],
    }  # fmt: skip
    done = step.remove_phase(AnsibleStandIn(), NothingLeftDocker(), params)
    assert done == {"changed": True, "done": ["instance folder", str(marker), str(cache)]}
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["instances", "pruned"]
    assert step.remove_phase(AnsibleStandIn(), NothingLeftDocker(), params) == {"changed": False, "done": []}
