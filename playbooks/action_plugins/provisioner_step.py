"""Runs the provisioner_step module with the run's rendered files read on the control machine.

The files travel inside the module's arguments, marked no_log there, so one task places them all; they
never appear in the task's own arguments, its result or its events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    _requires_connection = True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        folder = Path(str(args.pop("files_dir", "")))
        contents = {}
        for name in args.pop("read", None) or []:
            path = folder / str(name)
            if not folder.is_absolute() or not path.resolve().is_relative_to(folder.resolve()):
                raise AnsibleActionFail(f"{name}: not a file of this run")
            contents[str(name)] = path.read_text(encoding="utf-8")
        result.update(
            self._execute_module(
                module_name="provisioner_step",
                module_args={**args, "contents": contents},
                task_vars=task_vars,
            )
        )
        result.pop("invocation", None)
        return result
