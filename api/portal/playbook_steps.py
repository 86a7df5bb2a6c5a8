"""Our playbooks' task names: the job steps the portal shows translated (message context ``job step``).

``extract`` is a Babel extractor (see ``babel.cfg``), so ``pybabel extract`` puts every task name into
the catalogue template and a renamed task asks for its translation like any other text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

STEP_CONTEXT = "job step"
NESTED = ("block", "rescue", "always")
SECTIONS = ("pre_tasks", "tasks", "post_tasks", "handlers")


def _tasks(tasks: Any) -> Iterator[str]:
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        for nested in NESTED:
            yield from _tasks(task.get(nested))
        if isinstance(task.get("name"), str) and not any(nested in task for nested in NESTED):
            yield task["name"]  # a block's own name never shows as a step


def task_names(document: Any) -> Iterator[str]:
    """The task names of a playbook (a list of plays) or of a task file (a list of tasks)."""
    for item in document or []:
        if isinstance(item, dict) and "hosts" in item:
            for section in SECTIONS:
                yield from _tasks(item.get(section))
        else:
            yield from _tasks([item])


def extract(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    text = fileobj.read().decode("utf-8")
    lines = text.splitlines()
    for name in dict.fromkeys(task_names(yaml.safe_load(text))):
        lineno = next((number for number, line in enumerate(lines, 1) if name in line), 1)
        yield lineno, "pgettext", (STEP_CONTEXT, name), []
