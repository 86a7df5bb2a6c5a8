#!/usr/bin/python3
"""One phase of a backup or restore on the server, in one task instead of one task per step.

Each task costs Ansible a round trip to the server (1 to 3 s on a busy machine), and a backup made of
sixteen small tasks cost ten times what restic itself needs. The phases:

- ``ready``: restic installed, the run's identity for the backup server with its pinned host key, the
  tenant's repository opened (made on first use with ``create``); with ``volumes``, the instance's
  volumes found (an ``optional`` one may be missing: an instance deployed before its template had it)
  and the free disk space under them checked;
- ``backup``: with ``prepare``, first what ``ready`` does and at the end what ``cleanup`` does, so a
  backup is one task; the template's steps before, restic's backup of the volumes, the steps after
  (also when the backup failed), the snapshot's full id and the optional volumes left out (with the
  steps that ``needs`` them), the retention policy where the server may delete, when it is due (at
  most once per ``prune_every_seconds`` for each instance, its time kept in ``prune_marker``):
  ``forget --prune`` reads and rewrites the repository, which cost as much as the backup itself when
  it ran after every one;
- ``restore``: the snapshot restored into the run's folder beside the volumes, each volume a folder and
  each dump a file of its own there; with ``prepare``, first what ``ready`` does and the template's
  steps before the restore, and at the end what ``replace`` does, so all a restore does before its
  containers start again is one task;
- ``replace``: the containers stopped, the volumes emptied, the file volumes filled from the copy;
- ``load``: each new database waited for, then its dump loaded, stopping at the first error; with
  ``finish``, at the end what ``cleanup`` does;
- ``space_backup``: one space of a shared instance alone: the service's export command writes the
  space's data into a folder inside its container, the folder is copied out beside the volumes and
  backed up, the snapshot's full id reported, and the space's retention applied as an instance's is;
- ``space_restore``: that folder restored from a snapshot, copied into the container (the shared
  instance's, or the dedicated instance's the space moves into) and read by the service's import command;
- ``cleanup``: the run's identity, those killed runs left behind, where earlier versions kept one, the
  run's restored copy, and the cache folders restic kept per repository when every association's runs
  on the server shared one cache (``<cache>/<repository id>``): each association has a cache of its own
  now (``cache_dir``, removed with its last instance or space on the server).

restic's password and the repository's credentials reach this module only through the task's
environment; they are cut out of every message it returns all the same. The identity's key arrives as
an argument marked no_log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time

from ansible.module_utils.basic import AnsibleModule

# Environment variables whose values must never show in a result.
SECRET_ENV = ("RESTIC_PASSWORD", "RESTIC_REPOSITORY", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
RESTIC = "/usr/bin/restic"
DAY = 86400
# restic names its cache folder for a repository by the repository's id.
REPOSITORY_ID = re.compile(r"[0-9a-f]{64}")
# A new database is asked whether it answers every READY_DELAY seconds, for up to two minutes.
READY_DELAY, READY_TRIES = 0.25, 480


class Phase:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.done = []

    def masked(self, text):
        text = text.strip()[-500:]
        for name in SECRET_ENV:
            value = os.environ.get(name)
            if value:
                text = text.replace(value, "***")
        return text

    def fail(self, msg):
        self.module.fail_json(msg=self.masked(msg), done=self.done)

    def run(self, argv, what, *, cwd=None, env=None, check=True):
        rc, out, err = self.module.run_command(argv, cwd=cwd, environ_update=env or {})
        if check and rc != 0:
            self.fail(f"{what}: {err or out or f'exit status {rc}'}")
        return rc, out, err

    def restic(self, *args, what, cwd=None, check=True):
        return self.run([*self.p["restic_argv"], *args], what, cwd=cwd, check=check)

    def steps(self, steps, what, *, retries=0, delay=2):
        for step in steps:
            label = f"{step['container']}: {' '.join(step['argv'])}"
            for attempt in range(retries + 1):
                rc, out, err = self.run(
                    ["docker", "exec", step["container"], *step["argv"]], what, check=False
                )
                if rc == 0:
                    break
                if attempt < retries:
                    time.sleep(delay)
            else:
                self.fail(f"{what} failed ({label}): {err or out or f'exit status {rc}'}")
            self.done.append(label)


def place(path, text, mode):
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with open(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, mode)


def mountpoints(phase):
    """Each volume's folder on the server. An optional one may be missing (an instance deployed before
    its template had it): it is left out, and the backup reports it."""
    found, missing = {}, []
    for volume in phase.p["volumes"]:
        rc, out, _ = phase.run(
            ["docker", "volume", "inspect", volume["docker"]], "docker volume", check=False
        )
        if rc != 0 and volume.get("optional"):
            phase.done.append(f"{volume['docker']} left out: the instance was deployed before it was added")
        elif rc != 0:
            missing.append(volume["docker"])
        else:
            found[volume["name"]] = json.loads(out)[0]["Mountpoint"]
    if missing:
        phase.fail(f"the instance's volumes are missing on the server: {', '.join(missing)}")
    return found


def ready(phase):
    p = phase.p
    if not os.path.exists(RESTIC):
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        phase.run(["apt-get", "update", "-q"], "apt-get update", env=env)
        phase.run(["apt-get", "install", "-q", "-y", "restic"], "installing restic", env=env)
        phase.done.append("restic installed")
    identity = p["identity"]
    if identity:
        os.makedirs(identity["dir"], mode=0o700, exist_ok=True)
        os.chmod(identity["dir"], 0o700)
        place(f"{identity['dir']}/id_ed25519", p["identity_key"] or "", 0o600)
        place(f"{identity['dir']}/known_hosts", identity["known_hosts"], 0o600)
        phase.done.append("identity placed")
    found = mountpoints(phase) if p["volumes"] else {}
    if found:
        first = next(iter(found.values()))
        _, out, _ = phase.run(["df", "--output=avail", "-m", "--", first], "df")
        free = int(out.strip().splitlines()[-1].strip())
        if free < p["min_free_mb"]:
            phase.fail(
                f"not enough free disk space on the server: {free} MB free under {first}, at least "
                f"{p['min_free_mb']} MB needed (PROVISIONER_BACKUP_MIN_FREE_MB); nothing was changed"
            )
    rc, _, err = phase.restic("cat", "config", what="restic cat config", check=False)
    if rc != 0 and p["create"]:
        phase.restic("init", what="restic init")
        phase.done.append("repository created")
        rc, err = 0, ""
    return {"rc": rc, "stderr": phase.masked(err) if rc else "", "mountpoints": found}


def backup(phase):
    p = phase.p
    if p["prepare"]:
        # Made ready in the same task (one round trip for the whole backup), then the identity removed
        # at its end; a failure on the way leaves that to the playbook's ``always``.
        opened = ready(phase)
        if opened["rc"]:
            phase.fail(f"the tenant's backup repository does not open: {opened['stderr']}")
        p["mountpoints"] = opened["mountpoints"]
    found = p["mountpoints"]
    if not found:
        phase.fail("none of the instance's volumes is on the server")
    # Optional volumes the server lacks (mountpoints refused any other): left out, with the steps that
    # write into them.
    missing = [v for v in p["volumes"] if v["name"] not in found]
    gone = {v["docker"] for v in missing}
    # restic runs in Docker's volumes folder and is given <volume>/_data, so the snapshot holds each
    # volume under a path the control plane derives from its own names (never one the server reports).
    root = os.path.dirname(os.path.dirname(next(iter(found.values()))))
    for volume in p["volumes"]:
        if volume["docker"] not in gone and found[volume["name"]] != f"{root}/{volume['docker']}/_data":
            phase.fail(f"the volume {volume['docker']} is not where Docker keeps named volumes ({root})")
    paths = [path for path in p["backup_paths"] if path.split("/", 1)[0] not in gone]
    try:
        phase.steps([s for s in p["before_steps"] if s.get("needs") not in gone], "a step before the backup")
        backup_options = ["backup", "--json", "--quiet", "--host", p["instance_id"], *p["tag_options"]]
        _, out, _ = phase.restic(*backup_options, "--", *paths, what="restic backup", cwd=root)
    finally:
        phase.steps(p["after_steps"], "a step after the backup")
    summary, snapshot_id = reported(phase, out)
    apply_retention(phase)
    report = {"snapshot_id": snapshot_id, "summary": summary, "missing": [v["name"] for v in missing]}
    result = {"report": report}
    if p["prepare"]:
        cleanup(phase)
        result["identity_removed"] = True
    return result


def apply_retention(phase):
    """The keep rules for the snapshots of this run's instance or space (its tag), when they are due.
    Not on a target whose servers may only append (no keep options): the control plane prunes there."""
    p = phase.p
    if p["keep_options"] and prune_due(p["prune_marker"], p["prune_every_seconds"]):
        phase.restic("forget", "--prune", "--tag", p["instance_id"], *p["keep_options"], what="restic forget")
        if p["prune_marker"]:
            os.makedirs(os.path.dirname(p["prune_marker"]), mode=0o700, exist_ok=True)
            place(p["prune_marker"], f"{time.time()}\n", 0o600)
        phase.done.append("retention policy applied")


def reported(phase, out):
    """The backup's summary and its snapshot's full id, from restic's JSON lines."""
    summaries = [line for line in out.splitlines() if '"message_type":"summary"' in line]
    if not summaries:
        phase.fail("restic reported no summary of the backup")
    summary = json.loads(summaries[-1])
    # The summary names the snapshot by its short id; the control plane keeps the full one.
    _, listed, _ = phase.restic(
        "snapshots", "--json", "--", str(summary.get("snapshot_id")), what="restic snapshots"
    )
    snapshot_id = (json.loads(listed) or [{}])[0].get("id")
    phase.done.append("backed up")
    return summary, snapshot_id


def space_command(phase, argv, what):
    """The service's own export or import command, the space's facts on its standard input."""
    p = phase.p
    rc, out, err = phase.module.run_command(
        ["docker", "exec", "-i", p["container"], *argv], data=p["space_input"], binary_data=True
    )
    if rc != 0:
        last = (err.strip().splitlines() or out.strip().splitlines() or ["no output"])[-1]
        phase.fail(f"{what} exited {rc}: {last[:400]}")
    phase.done.append(f"{what}: {(out.strip().splitlines() or [''])[-1][:200]}")


def space_backup(phase):
    p, work = phase.p, phase.p["work_dir"]
    os.makedirs(work, mode=0o700, exist_ok=True)
    inside = f"{p['container']}:{p['folder']}"
    try:
        space_command(phase, p["export_argv"], "the space's export")
        # The copy is named by us (space-<id>), so the snapshot's one path is ours too.
        phase.run(
            ["docker", "cp", "--", inside, f"{work}/{p['in_snapshot']}"], "copying the space's data out"
        )
    finally:
        phase.run(
            ["docker", "exec", p["container"], "rm", "-rf", "--", p["folder"]], "docker exec", check=False
        )
    backup_options = ["backup", "--json", "--quiet", "--host", p["instance_id"], *p["tag_options"]]
    _, out, _ = phase.restic(*backup_options, "--", p["in_snapshot"], what="restic backup", cwd=work)
    summary, snapshot_id = reported(phase, out)
    apply_retention(phase)
    return {"report": {"snapshot_id": snapshot_id, "summary": summary}}


def space_restore(phase):
    p, work = phase.p, phase.p["work_dir"]
    name = p["in_snapshot"]
    phase.restic(
        "restore", "--target", work, f"--include=/{name}", "--", p["snapshot"], what="restic restore"
    )
    # The snapshot was written by a server: the space's folder must be one of its own, no link.
    if not own(work, f"/{name}", os.path.isdir):
        phase.fail("the snapshot does not hold the space's data as a folder of its own")
    phase.done.append("the space's data restored")
    remove = ["docker", "exec", p["container"], "rm", "-rf", "--", p["folder"]]
    phase.run(remove, "clearing the space's folder in the container")
    try:
        phase.run(
            ["docker", "cp", "--", f"{work}/{name}", f"{p['container']}:{p['folder']}"],
            "copying the space's data in",
        )
        space_command(phase, p["import_argv"], "the space's import")
    finally:
        phase.run(remove, "docker exec", check=False)
    return {}


def prune_due(marker, every):
    """Whether this instance's retention is due: its last pruning (the marker's time) is ``every``
    seconds old or more. Without a marker, at every backup. A lost marker costs one pruning too many."""
    if not marker:
        return True
    try:
        return time.time() - os.stat(marker).st_mtime >= every
    except FileNotFoundError:
        return True


def own(work, in_snapshot, is_kind):
    """Whether the restored copy holds ``in_snapshot`` itself (no symbolic link on the way), of its kind."""
    real = os.path.realpath(f"{work}{in_snapshot}")
    return real == os.path.realpath(work) + in_snapshot and is_kind(real)


def restore(phase):
    p, work, started = phase.p, phase.p["work_dir"], time.monotonic()
    timings = []
    if p["prepare"]:
        # Made ready in the same task, and the volumes replaced at its end: a task costs a round trip.
        opened = ready(phase)
        if opened["rc"]:
            phase.fail(f"the tenant's backup repository does not open: {opened['stderr']}")
        p["mountpoints"] = opened["mountpoints"]
        phase.steps(p["before_steps"], "a step before the restore")
        timings.append(f"restic made ready in {time.monotonic() - started:.1f} s")
    restored_from = time.monotonic()
    # Only the instance's volumes, and the snapshot id after "--": restic must never read it as an option.
    includes = [f"--include={volume['in_snapshot']}" for volume in p["volumes"]]
    phase.restic("restore", "--target", work, *includes, "--", p["snapshot"], what="restic restore")
    # The snapshot was written by a server: a symbolic link on the way to a volume's folder (or a dump)
    # would make the copy below read from elsewhere on this server (another instance's volume, say).
    for volume in p["volumes"]:
        if not own(work, volume["in_snapshot"], os.path.isdir):
            phase.fail(f"the snapshot does not hold the volume {volume['name']} as a folder of its own")
    for database in p["databases"]:
        if not own(work, f"{database['in_snapshot']}/{database['dump']}", os.path.isfile):
            phase.fail(
                f"the snapshot does not hold the dump {database['volume']}/{database['dump']} "
                "as a file of its own"
            )
    phase.done.append("restored beside the volumes")
    timings.append(f"restic restore in {time.monotonic() - restored_from:.1f} s")
    if p["prepare"]:
        replaced_from = time.monotonic()
        replace(phase)
        timings.append(f"containers stopped and volumes replaced in {time.monotonic() - replaced_from:.1f} s")
    return {"timings": timings}


def empty(folder):
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def replace(phase):
    p, found, work = phase.p, phase.p["mountpoints"], phase.p["work_dir"]
    running = [
        name
        for name in p["containers"]
        if phase.run(["docker", "inspect", name], "docker", check=False)[0] == 0
    ]
    if running:
        phase.run(["docker", "stop", *running], "stopping the instance's containers")
        phase.done.append(f"{len(running)} container(s) stopped")
    for volume in p["volumes"]:
        empty(found[volume["name"]])
        if volume["copied"]:
            source = f"{work}{volume['in_snapshot']}/."
            phase.run(["cp", "-a", "--", source, f"{found[volume['name']]}/"], f"filling {volume['docker']}")
        phase.done.append(f"{volume['docker']} {'filled' if volume['copied'] else 'emptied'}")
    return {}


def load(phase):
    p, timings = phase.p, []
    for database in p["databases"]:
        started = time.monotonic()
        # A database set up afresh answers after its first start's own setup (seconds); asked often, so
        # the load begins soon after, for up to two minutes as before.
        phase.steps(
            [{"container": database["container"], "argv": database["ready"]}],
            "waiting for the new database",
            retries=READY_TRIES,
            delay=READY_DELAY,
        )
        waited = time.monotonic() - started
        dump = f"{p['work_dir']}{database['in_snapshot']}/{database['dump']}"
        # The dump goes through standard input, so no file of the snapshot is copied into the container.
        phase.run(database["load_argv"], f"loading the dump into {database['container']}", env={"DUMP": dump})
        loaded = time.monotonic() - started - waited
        phase.done.append(f"{database['container']}: {' '.join(database['load'])}")
        timings.append(f"{database['container']}: answered after {waited:.1f} s, loaded in {loaded:.1f} s")
    if p["finish"]:
        cleanup(phase)
        return {"identity_removed": True, "timings": timings}
    return {"timings": timings}


def cleanup(phase):
    p = phase.p
    paths = list(p["remove"])
    identity = p["identity"]
    if identity:
        paths += [identity["dir"], identity["kept_before"]]
        # A run killed before its end left its folder; a day is longer than any run may last.
        parent = os.path.dirname(identity["dir"])
        for name in os.listdir(parent) if os.path.isdir(parent) else []:
            path = os.path.join(parent, name)
            if name.startswith("run-") and os.path.isdir(path) and time.time() - os.stat(path).st_mtime > DAY:
                paths.append(path)
    # The shared cache of earlier versions, beside the associations' own folders (named by their ids).
    cache = p["cache_dir"] or os.environ.get("RESTIC_CACHE_DIR")
    shared = os.path.dirname(cache) if cache else None
    for name in os.listdir(shared) if shared and os.path.isdir(shared) else []:
        if REPOSITORY_ID.fullmatch(name):
            paths.append(os.path.join(shared, name))
    for path in paths:
        if os.path.lexists(path):
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
            phase.done.append(path)
    return {}


PHASES = {
    "ready": ready,
    "backup": backup,
    "restore": restore,
    "replace": replace,
    "load": load,
    "space_backup": space_backup,
    "space_restore": space_restore,
    "cleanup": cleanup,
}


def main():
    module = AnsibleModule(
        argument_spec={
            "phase": {"type": "str", "required": True, "choices": sorted(PHASES)},
            "restic_argv": {"type": "list", "elements": "str", "default": []},
            "identity": {"type": "dict"},
            "identity_key": {"type": "str", "no_log": True},
            "create": {"type": "bool", "default": False},
            "prepare": {"type": "bool", "default": False},
            "finish": {"type": "bool", "default": False},
            "volumes": {"type": "list", "elements": "dict", "default": []},
            "min_free_mb": {"type": "int", "default": 0},
            "mountpoints": {"type": "dict", "default": {}},
            "instance_id": {"type": "str"},
            "tag_options": {"type": "list", "elements": "str", "default": []},
            "backup_paths": {"type": "list", "elements": "str", "default": []},
            "keep_options": {"type": "list", "elements": "str", "default": []},
            "prune_marker": {"type": "str"},
            "prune_every_seconds": {"type": "float", "default": 0},
            "before_steps": {"type": "list", "elements": "dict", "default": []},
            "after_steps": {"type": "list", "elements": "dict", "default": []},
            "snapshot": {"type": "str"},
            "work_dir": {"type": "str"},
            "databases": {"type": "list", "elements": "dict", "default": []},
            "containers": {"type": "list", "elements": "str", "default": []},
            "remove": {"type": "list", "elements": "str", "default": []},
            "container": {"type": "str"},
            "folder": {"type": "str"},
            "in_snapshot": {"type": "str"},
            "export_argv": {"type": "list", "elements": "str", "default": []},
            "import_argv": {"type": "list", "elements": "str", "default": []},
            "space_input": {"type": "str"},
            "cache_dir": {"type": "str"},
        },
    )
    phase = Phase(module)
    result = PHASES[module.params["phase"]](phase)
    module.exit_json(changed=bool(phase.done), done=phase.done, **result)


if __name__ == "__main__":
    main()
