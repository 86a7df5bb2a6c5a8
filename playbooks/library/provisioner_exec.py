#!/usr/bin/python3
"""Runs a service's own admin command in one of an instance's containers, with a JSON document on its
standard input: how a space of a shared instance is made or removed.

The document holds the space's first admin password, so it is a no_log argument: Ansible keeps it out
of the task's arguments and result, and masks it in anything the command prints. The command's last
lines are returned for the job's log; what it prints is the server's word, shown, never trusted.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

KEEP_LINES = 20


def main():
    module = AnsibleModule(
        argument_spec={
            "container": {"type": "str", "required": True},
            "argv": {"type": "list", "elements": "str", "required": True},
            "input": {"type": "str", "required": True, "no_log": True},
        },
    )
    p = module.params
    docker = module.get_bin_path("docker", required=True)
    rc, out, err = module.run_command(
        [docker, "exec", "-i", p["container"], *p["argv"]], data=p["input"], binary_data=True
    )
    said = out.strip().splitlines()[-KEEP_LINES:]
    if rc != 0:
        last = (err.strip().splitlines() or said or ["no output"])[-1]
        module.fail_json(msg=f"{' '.join(p['argv'][:3])} exited {rc}: {last[:400]}", stdout_lines=said)
    module.exit_json(changed=True, stdout_lines=said)


if __name__ == "__main__":
    main()
