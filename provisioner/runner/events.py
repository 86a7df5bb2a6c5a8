"""Turns ansible-runner's event dictionaries into short lines a person can follow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from provisioner.runner.spec import RunnerEvent

_STATUS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
    "runner_item_on_ok": "ok",
    "runner_item_on_failed": "failed",
    "runner_item_on_skipped": "skipped",
}

MAX_LINE = 500


def _created(raw: Any) -> datetime:
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


# What ssh says, and what an operator should read instead.
_UNREACHABLE = (
    (
        "REMOTE HOST IDENTIFICATION HAS CHANGED",
        "its SSH host key differs from the one recorded when it was added",
    ),
    ("Host key verification failed", "its SSH host key differs from the one recorded when it was added"),
    # Mitogen for Ansible's wording of the same refusal.
    (
        "SSH reported an unrecognized or mismatching host key",
        "its SSH host key differs from the one recorded when it was added",
    ),
    ("Connection refused", "SSH connection refused (is sshd running on that port?)"),
    ("Permission denied", "SSH login refused: the control plane's key is not authorized for that user"),
    ("timed out", "no answer within the connect timeout"),
    ("No route to host", "no route to the server's address"),
    ("Could not resolve hostname", "the server's name does not resolve"),
)


# How Ansible words a lost SSH connection, with and without pipelining.
_LOST_CONNECTION = ("Failed to connect to the host via ssh", "Data could not be sent to remote host")


def unreachable_reason(message: str) -> str:
    for needle, reason in _UNREACHABLE:
        if needle in message:
            return reason
    return " ".join(message.split())[:MAX_LINE]


def failure_message(data: dict[str, Any]) -> str:
    result = data.get("res") or {}
    if result.get("censored"):
        return "details hidden because the task handles secrets"
    message = str(result.get("msg") or result.get("stderr") or result.get("reason") or "the task failed")
    said = str(result.get("stderr") or "").strip().splitlines()
    if said and "Unknown error" in message:
        # A command that failed with a non-zero exit (`caddy reload`, say) leaves Ansible no message
        # of its own; the command's last words say what went wrong.
        message = f"{message} {said[-1]}"
    return " ".join(message.split())[:MAX_LINE]


def to_event(raw: dict[str, Any]) -> RunnerEvent | None:
    kind = raw.get("event", "")
    data = raw.get("event_data") or {}
    host = data.get("host")
    task = data.get("task") or None
    status = _STATUS.get(kind, "info")
    if status == "ok" and (data.get("res") or {}).get("changed"):
        status = "changed"
    if kind == "playbook_on_play_start":
        line = f"Play: {data.get('play', '')}"
    elif kind == "playbook_on_task_start":
        line = f"Step: {task}"
    elif kind == "playbook_on_stats":
        failed = sum((data.get("failures") or {}).values()) + sum((data.get("dark") or {}).values())
        line = "Finished with errors" if failed else "Finished"
    elif status == "unreachable":
        said = str((data.get("res") or {}).get("msg", ""))
        line = f"server {data.get('host')} unreachable: {unreachable_reason(said)}"
    elif status == "failed":
        message = failure_message(data)
        if any(marker in message for marker in _LOST_CONNECTION):
            # Inside included tasks Ansible reports a lost connection as a failure, not as unreachable.
            line = f"server {data.get('host')} unreachable: {unreachable_reason(message)}"
        else:
            line = f"failed on {data.get('host')}: {task}: {message}"
    elif status in ("ok", "changed", "skipped"):
        label = (data.get("res") or {}).get("_ansible_item_label")
        line = f"{status}: {task}" + (f" ({label})" if kind.startswith("runner_item_") and label else "")
    else:
        # Verbose or internal events carry nothing a person needs; keep their stdout only.
        if not raw.get("stdout"):
            return None
        line = ""
    return RunnerEvent(
        seq=int(raw.get("counter", 0)),
        created_at=_created(raw.get("created")),
        host=host,
        task=task,
        status=status,
        line=line[:MAX_LINE],
        stdout=str(raw.get("stdout", "")),
    )
