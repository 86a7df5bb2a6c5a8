"""Finding and ending process trees by pid, for the processes the tests start themselves."""

from __future__ import annotations

from pathlib import Path

from provisioner.runner.leftovers import freeze_and_kill


def children(parent: int) -> list[int]:
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name in parentheses may hold spaces; the parent pid is the second field after it.
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            found.append(int(stat_file.parent.name))
    return found


def descendants(root: int) -> set[int]:
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def kill_tree(root: int) -> set[int]:
    """SIGKILL a process and everything below it, also what left its process group or session.

    The tree is frozen first (SIGSTOP), so nothing forks or reparents between finding and killing.
    Returns the pids that got the signal.
    """
    return freeze_and_kill(lambda: {root} | descendants(root))


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
