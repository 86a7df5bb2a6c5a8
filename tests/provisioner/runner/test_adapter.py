"""The runner adapter against real ansible-playbook runs: locally, and over SSH to a test server."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from pathlib import Path

import pytest

from provisioner.runner.adapter import run_playbook
from provisioner.runner.spec import HostSpec, RunSpec
from tests.support.runs import local_run
from tests.support.sinks import CollectingSink
from tests.support.sshd import TestServer

PLAYBOOK = """
- name: Write what it was given
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the value
      ansible.builtin.copy:
        content: "{{ value }}"
        dest: "{{ dest }}"
        mode: "0600"
    - name: Fail when asked to
      ansible.builtin.fail:
        msg: "asked to fail: {{ value }}"
      when: fail_now | bool
"""


@pytest.fixture
def spec(tmp_path: Path) -> RunSpec:
    variables = {
        "value": "{{ lookup('pipe', 'id') }} $(id)",
        "dest": str(tmp_path / "out.txt"),
        "fail_now": "no",
    }
    return local_run(tmp_path, "write.yml", PLAYBOOK, variables, timeout=120)


def test_tenant_text_reaches_the_server_literally_and_the_private_folder_goes(
    spec: RunSpec, tmp_path: Path
) -> None:
    sink = CollectingSink()
    outcome = run_playbook(spec, sink, work_root=tmp_path / "runs")
    assert outcome.status == "successful", outcome.error
    assert (tmp_path / "out.txt").read_text() == "{{ lookup('pipe', 'id') }} $(id)"
    assert list((tmp_path / "runs").iterdir()) == []
    lines = [e.line for e in sink.events if e.line]
    assert lines[0] == "Play: Write what it was given"
    assert "changed: Write the value" in lines
    assert lines[-1] == "Finished"
    assert [e.seq for e in sink.events] == sorted({e.seq for e in sink.events})


def test_a_failing_task_becomes_the_jobs_error(spec: RunSpec, tmp_path: Path) -> None:
    failing = replace(spec, variables={**spec.variables, "fail_now": "yes"})
    outcome = run_playbook(failing, CollectingSink(), work_root=tmp_path / "runs")
    assert outcome.status == "failed"
    assert (
        outcome.error
        == "failed on local: Fail when asked to: asked to fail: {{ lookup('pipe', 'id') }} $(id)"
    )
    assert list((tmp_path / "runs").iterdir()) == []


def _over_ssh(spec: RunSpec, server: TestServer, *, host_key: str) -> RunSpec:
    host = HostSpec(
        name=server.name,
        address=server.address,
        port=server.port,
        user=server.user,
        connection="ssh",
        host_key=host_key,
    )
    return replace(spec, host=host, ssh_private_key=server.client_key.read_text())


# Both ways a run can reach a server: Ansible's own strategy, and Mitogen for Ansible (a setting).
STRATEGIES = pytest.mark.parametrize("mitogen", [False, True], ids=["ansible", "mitogen"])


@STRATEGIES
def test_tenant_text_reaches_the_server_literally_either_way(
    spec: RunSpec, tmp_path: Path, mitogen: bool
) -> None:
    outcome = run_playbook(replace(spec, mitogen=mitogen), CollectingSink(), work_root=tmp_path / "runs")
    assert outcome.status == "successful", outcome.error
    assert (tmp_path / "out.txt").read_text() == "{{ lookup('pipe', 'id') }} $(id)"


@STRATEGIES
def test_over_ssh_with_the_recorded_host_key(
    spec: RunSpec, tmp_path: Path, ssh_servers: list[TestServer], mitogen: bool
) -> None:
    remote = _over_ssh(replace(spec, mitogen=mitogen), ssh_servers[0], host_key=ssh_servers[0].host_key)
    outcome = run_playbook(remote, CollectingSink(), work_root=tmp_path / "runs")
    assert outcome.status == "successful", outcome.error
    assert (tmp_path / "out.txt").read_text() == "{{ lookup('pipe', 'id') }} $(id)"


@STRATEGIES
def test_a_wrong_host_key_is_refused_and_named(
    spec: RunSpec, tmp_path: Path, ssh_servers: list[TestServer], mitogen: bool
) -> None:
    server, other = ssh_servers
    # The key of a different machine.
    impostor = _over_ssh(replace(spec, mitogen=mitogen), server, host_key=other.host_key)
    outcome = run_playbook(impostor, CollectingSink(), work_root=tmp_path / "runs")
    assert outcome.status == "failed"
    assert outcome.error == (
        f"server {server.name} unreachable: its SSH host key differs from the one recorded when it was added"
    )
    assert not (tmp_path / "out.txt").exists()


class Clock(CollectingSink):
    """Notes when it is asked whether to cancel: that is when the real sink flushes events and polls."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[float] = []

    def should_cancel(self) -> bool:
        self.asked.append(time.monotonic())
        return False


def test_the_sink_is_asked_often_also_while_a_task_is_silent(spec: RunSpec, tmp_path: Path) -> None:
    playbooks = tmp_path / "playbooks"
    (playbooks / "silent.yml").write_text(
        """
- name: Say nothing for a while
  hosts: all
  gather_facts: false
  tasks:
    - name: Sleep
      ansible.builtin.command: sleep 4
      changed_when: false
"""
    )
    sink = Clock()
    outcome = run_playbook(replace(spec, playbook="silent.yml"), sink, work_root=tmp_path / "runs")
    assert outcome.status == "successful", outcome.error
    gaps = [later - earlier for earlier, later in itertools.pairwise(sink.asked)]
    assert len(sink.asked) >= 8
    assert max(gaps) < 1.5, f"asked only every {max(gaps):.1f} s"


class KeyWatch(CollectingSink):
    """Looks through the run's folders for the private key each time it is asked, while the run goes on."""

    def __init__(self, work_root: Path, key: str) -> None:
        super().__init__()
        self.work_root, self.key = work_root, key
        self.looked = 0
        self.found: set[str] = set()

    def should_cancel(self) -> bool:
        self.looked += 1
        for path in self.work_root.rglob("*"):
            # Regular files only: the key reaches ssh-agent through a FIFO, which holds nothing on disk.
            if path.is_file() and self.key in path.read_text(errors="replace"):
                self.found.add(str(path.relative_to(self.work_root)))
        return False


def test_the_ssh_key_lands_in_no_file_while_the_run_goes_on(
    spec: RunSpec, tmp_path: Path, ssh_servers: list[TestServer]
) -> None:
    remote = _over_ssh(spec, ssh_servers[0], host_key=ssh_servers[0].host_key)
    assert remote.ssh_private_key
    watch = KeyWatch(tmp_path / "runs", remote.ssh_private_key.strip())
    outcome = run_playbook(remote, watch, work_root=tmp_path / "runs")
    assert outcome.status == "successful", outcome.error
    assert watch.looked >= 2
    assert watch.found == set()


def test_the_control_planes_secrets_stay_out_of_the_run(
    spec: RunSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "database-password-that-ansible-must-not-see"
    monkeypatch.setenv(
        "PROVISIONER_DATABASE_URL", f"postgresql+psycopg://provisioner:{secret}@db/provisioner"
    )
    monkeypatch.setenv("PROVISIONER_SECRET_KEY", secret)
    (tmp_path / "playbooks" / "env.yml").write_text(
        """
- name: Write what the environment holds
  hosts: all
  gather_facts: false
  tasks:
    - name: Write it
      ansible.builtin.copy:
        content: "{{ lookup('ansible.builtin.env', 'PROVISIONER_DATABASE_URL') }}"
        dest: "{{ dest }}"
        mode: "0600"
"""
    )
    watch = KeyWatch(tmp_path / "runs", secret)
    outcome = run_playbook(replace(spec, playbook="env.yml"), watch, work_root=tmp_path / "runs")
    assert outcome.status == "successful", outcome.error
    assert (tmp_path / "out.txt").read_text() == ""
    assert watch.looked >= 2
    assert watch.found == set()


SLOW = """
- name: Take a long time
  hosts: all
  gather_facts: false
  tasks:
    - name: Say something now and then
      ansible.builtin.debug:
        msg: "still here"
      loop: "{{ range(40) | list }}"
      loop_control:
        pause: 1
    - name: Say nothing for a long time
      ansible.builtin.command: sleep 60
      changed_when: false
"""


@pytest.mark.parametrize(
    ("job", "idle", "why"),
    [(4, None, "a run longer than its time limit"), (None, 3, "a run that stays silent too long")],
)
def test_time_limits_end_a_run_as_timed_out(
    spec: RunSpec, tmp_path: Path, job: int | None, idle: int | None, why: str
) -> None:
    (spec.playbooks_dir / "slow.yml").write_text(
        SLOW if job else SLOW.replace('loop: "{{ range(40) | list }}"', "loop: [1]")
    )
    limited = replace(spec, playbook="slow.yml", timeout_seconds=job or 120, idle_timeout_seconds=idle)
    started = time.monotonic()
    outcome = run_playbook(limited, CollectingSink(), work_root=tmp_path / "runs")
    assert outcome.status == "timeout", why
    assert outcome.error is not None
    assert "time limit" in outcome.error
    assert time.monotonic() - started < 30


THREE_TASKS = """
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.command: "true"
    - ansible.builtin.command: "true"
    - ansible.builtin.command: "true"
"""


@STRATEGIES
def test_a_run_logs_in_to_the_server_once_however_many_tasks_it_has(
    tmp_path: Path, ssh_servers: list[TestServer], mitogen: bool
) -> None:
    server = ssh_servers[0]
    log = server.root_dir.parent / "sshd.log"  # the test server's sshd logs each login
    before = log.read_text().count("Accepted publickey")
    three = replace(local_run(tmp_path, "three.yml", THREE_TASKS, {}, timeout=120), mitogen=mitogen)
    outcome = run_playbook(
        _over_ssh(three, server, host_key=server.host_key), CollectingSink(), work_root=tmp_path / "runs"
    )
    assert outcome.status == "successful", outcome.error
    assert log.read_text().count("Accepted publickey") - before == 1
