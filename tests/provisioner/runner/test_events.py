from __future__ import annotations

import pytest

from provisioner.runner.events import to_event


def _raw(event: str, **data: object) -> dict[str, object]:
    return {
        "event": event,
        "counter": 7,
        "created": "2026-01-02T03:04:05.000006",
        "stdout": "x",
        "event_data": data,
    }


def test_a_changed_result_reads_as_changed() -> None:
    event = to_event(_raw("runner_on_ok", host="s1", task="Start containers", res={"changed": True}))
    assert event is not None
    assert (event.seq, event.status, event.line, event.host) == (
        7,
        "changed",
        "changed: Start containers",
        "s1",
    )
    assert event.created_at.tzinfo is not None


def test_a_failure_says_what_failed_in_one_line() -> None:
    event = to_event(_raw("runner_on_failed", host="s1", task="Pull images", res={"msg": "pull\n  denied"}))
    assert event is not None
    assert event.line == "failed on s1: Pull images: pull denied"


def test_a_failed_command_without_a_message_says_its_last_error_line() -> None:
    res = {
        "msg": "Task failed: Action failed: Unknown error.",
        "rc": 1,
        "stderr": '{"level":"info"}\nError: adapting config: ambiguous site definition: a.example\n',
    }
    event = to_event(_raw("runner_on_failed", host="s1", task="Reload the proxy", res=res))
    assert event is not None
    assert event.line == (
        "failed on s1: Reload the proxy: Task failed: Action failed: Unknown error. "
        "Error: adapting config: ambiguous site definition: a.example"
    )


def test_a_censored_failure_does_not_reveal_the_hidden_result() -> None:
    res = {"censored": "the output has been hidden", "msg": "password=hunter2"}
    event = to_event(_raw("runner_on_failed", host="s1", task="Set password", res=res))
    assert event is not None
    assert "hunter2" not in event.line


def test_loop_items_name_their_item() -> None:
    res = {"changed": False, "_ansible_item_label": "volume-a"}
    event = to_event(_raw("runner_item_on_ok", host="s1", task="Create volumes", res=res))
    assert event is not None
    assert event.line == "ok: Create volumes (volume-a)"


def test_internal_events_without_output_are_dropped() -> None:
    assert to_event({"event": "verbose", "counter": 1, "stdout": "", "event_data": {}}) is None


def test_unreachable_servers_get_a_reason_an_operator_understands() -> None:
    res = {
        "msg": "Failed to connect to the host via ssh: ssh: connect to host 10.0.0.5 port 22: "
        "Connection refused"
    }
    event = to_event(_raw("runner_on_unreachable", host="s1", task="Pull images", res=res))
    assert event is not None
    assert event.line == "server s1 unreachable: SSH connection refused (is sshd running on that port?)"


@pytest.mark.parametrize(
    "said",
    [
        "Task failed: Failed to connect to the host via ssh: ssh: connect to host 127.0.0.13 port 22: ",
        'Task failed: Data could not be sent to remote host "127.0.0.13". Make sure this host can be reached '
        "over ssh: ssh: connect to host 127.0.0.13 port 22: ",
    ],
)
def test_a_lost_connection_reported_as_a_failure_still_reads_as_unreachable(said: str) -> None:
    res = {"msg": said + "Connection refused"}
    event = to_event(_raw("runner_on_failed", host="s1", task="Create the proxy folders", res=res))
    assert event is not None
    assert event.line == "server s1 unreachable: SSH connection refused (is sshd running on that port?)"


def test_mitogens_host_key_refusal_reads_like_ssh_s() -> None:
    res = {"msg": "Host key checking is enabled, and SSH reported an unrecognized or mismatching host key."}
    event = to_event(_raw("runner_on_unreachable", host="s1", task="Pull images", res=res))
    assert event is not None
    differs = "its SSH host key differs from the one recorded when it was added"
    assert event.line == f"server s1 unreachable: {differs}"
