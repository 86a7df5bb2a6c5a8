#!/usr/bin/python3
"""One phase of a deploy or removal on the server, in one task instead of one task per step.

Each task costs Ansible a round trip to the server (1 to 3 s here); a phase made of nine small steps
cost more than the work itself. The phases:

- ``proxy``: the server's reverse proxy runs (its folders and configuration, no proxy of an earlier
  registration holding the server's ports, its network, data volume, image and container);
- ``instance``: the instance's folder and rendered files, its network and volumes;
- ``route``: the instance's route in the proxy (a stale route for its address removed), the proxy
  attached to the instance network, the proxy reloaded when its configuration changed;
- ``unroute``: one route less, for a space of a shared instance that goes;
- ``remove``: the route, every container, network and volume labelled with the instance, its folder.

It runs with the server's Python standard library and the Docker command line (server-bootstrap.yml
installs both), and reports changed only when something changed, so a second run converges. The action
plugin of the same name passes the run's rendered files in ``contents``, which never leave the server
again: results name files, never their contents.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import re
import shutil

from ansible.module_utils.basic import AnsibleModule

# The proxy container's settings, hashed into a label: a container whose label differs is made anew.
CONFIG_LABEL = "org.provisioner.proxy.config"
RELOAD = ["caddy", "reload", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]


class Docker:
    def __init__(self, module):
        self.module = module
        self.binary = module.get_bin_path("docker", required=True)

    def run(self, *args, check=True):
        rc, out, err = self.module.run_command([self.binary, *args])
        if check and rc != 0:
            self.module.fail_json(msg=f"docker {' '.join(args[:2])}: {err.strip()[:500]}")
        return rc, out

    def inspect(self, kind, name):
        rc, out = self.run(kind, "inspect", name, check=False)
        return json.loads(out)[0] if rc == 0 else None

    def listed(self, *args):
        return self.run(*args)[1].split()

    def create(self, kind, name, labels):
        if self.inspect(kind, name) is not None:
            return False
        flags = [f"--label={key}={value}" for key, value in sorted(labels.items())]
        if self.run(kind, "create", *flags, name, check=False)[0] == 0:
            return True
        if self.inspect(kind, name) is None:  # not made by a run beside this one: fail in docker's words
            self.run(kind, "create", *flags, name)
        return False


def ensure_folder(path, mode):
    changed = False
    if not os.path.isdir(path):
        os.makedirs(path, mode=mode)
        changed = True
    if os.stat(path).st_mode & 0o7777 != mode:
        os.chmod(path, mode)
        changed = True
    return changed


def place_file(path, text, mode, group=None):
    """Writes ``text`` unless the file holds it already; the mode (and group) set either way."""
    try:
        with open(path, encoding="utf-8") as handle:
            same = handle.read() == text
    except FileNotFoundError:
        same = False
    if not same:
        partial = f"{path}.partial"
        # Created with its final mode: a file with secrets is never readable by others, not even briefly.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with open(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(partial, path)
    status, changed = os.stat(path), not same
    if status.st_mode & 0o7777 != mode:
        os.chmod(path, mode)
        changed = True
    if group is not None:
        gid = int(group) if str(group).isdigit() else grp.getgrnam(str(group)).gr_gid
        if status.st_gid != gid:
            os.chown(path, -1, gid)
            changed = True
    return changed


def file_mode(mode):
    # "0600" in the variables may arrive as the number it stands for, as with the file module.
    return mode if isinstance(mode, int) else int(str(mode), 8)


def reload_proxy(docker, proxy, *, check=True):
    return docker.run("exec", proxy["name"], *RELOAD, check=check)[0] == 0


def proxy_phase(module, docker, p):
    proxy, done = p["proxy"], []
    for folder in (proxy["dir"], f"{proxy['dir']}/sites"):
        if ensure_folder(folder, 0o755):
            done.append(f"folder {folder}")
    config_changed = place_file(f"{proxy['dir']}/Caddyfile", p["contents"]["_proxy/Caddyfile"], 0o644)
    if config_changed:
        done.append("configuration")
    address = proxy["address_label"]
    for name in docker.listed("ps", "--all", "--filter", f"label={address}", "--format", "{{.Names}}"):
        if name != proxy["name"]:  # a proxy of an earlier registration of this server holds its ports
            docker.run("rm", "--force", name)
            done.append(f"removed the earlier proxy {name}")
    for kind, name in (("network", proxy["network"]), ("volume", proxy["data_volume"])):
        if docker.create(kind, name, proxy["labels"]):
            done.append(f"{kind} {name}")
    started = proxy_container(module, docker, proxy, done)
    if config_changed and not started:
        reload_proxy(docker, proxy)
        done.append("reloaded")
    return {"changed": bool(done), "done": done, "config_changed": config_changed}


def proxy_container(module, docker, proxy, done):
    """The proxy's image and container; True when the container was (re)started."""
    image = docker.inspect("image", proxy["image"])
    if image is None:
        docker.run("pull", "--quiet", proxy["image"])
        image = docker.inspect("image", proxy["image"]) or module.fail_json(
            msg=f"not pulled: {proxy['image']}"
        )
        done.append(f"pulled {proxy['image']}")
    args = ["--name", proxy["name"], "--network", proxy["network"], "--restart", "unless-stopped"]
    args += ["--mount", f"type=bind,source={proxy['dir']},target=/etc/caddy,readonly"]
    args += ["--mount", f"type=volume,source={proxy['data_volume']},target=/data"]
    args += [f"--publish={port}" for port in proxy["published_ports"]]
    args += [f"--label={key}={value}" for key, value in sorted(proxy["labels"].items())]
    wanted = hashlib.sha256(json.dumps([args, proxy["image"]]).encode()).hexdigest()
    container = docker.inspect("container", proxy["name"])
    if (
        container is None
        or (container["Config"]["Labels"] or {}).get(CONFIG_LABEL) != wanted
        or container["Image"] != image["Id"]
    ):
        # Deploys attach instance networks one by one; a container made anew keeps them.
        attached = list(((container or {}).get("NetworkSettings") or {}).get("Networks") or {})
        if container is not None:
            docker.run("rm", "--force", proxy["name"])
        command = ["run", "--detach", *args, f"--label={CONFIG_LABEL}={wanted}", proxy["image"]]
        if docker.run(*command, check=False)[0] != 0:
            # Two first deploys on one server at once: the other run made the same proxy a moment ago.
            made = docker.inspect("container", proxy["name"])
            if made is None or (made["Config"]["Labels"] or {}).get(CONFIG_LABEL) != wanted:
                docker.run(*command)  # fails in docker's own words
        for network in attached:
            if network != proxy["network"] and docker.inspect("network", network) is not None:
                docker.run("network", "connect", network, proxy["name"])
        done.append("container created")
        return True
    if not container["State"]["Running"]:
        docker.run("start", proxy["name"])
        done.append("container started")
        return True
    return False


def instance_phase(module, docker, p):
    top, done = os.path.realpath(p["instance_dir"]), []
    # Readable by root and its group only, also when an earlier deploy or a person opened it.
    if ensure_folder(top, 0o750):
        done.append("instance folder")
    for item in p["files"]:
        path = os.path.realpath(os.path.join(top, item["dest"]))
        if not path.startswith(top + os.sep):
            module.fail_json(msg=f"{item['dest']}: outside the instance folder")
        # Only folders below the instance folder get 0755; the folder itself stays closed.
        if os.path.dirname(path) != top and ensure_folder(os.path.dirname(path), 0o755):
            done.append(f"folder {os.path.dirname(item['dest'])}")
        if place_file(path, p["contents"][item["src"]], file_mode(item["mode"]), item.get("group")):
            done.append(f"file {item['dest']}")
    if p["network"] and docker.create("network", p["network"], p["labels"]):
        done.append(f"network {p['network']}")
    for volume in p["volumes"]:
        if docker.create("volume", volume, p["labels"]):
            done.append(f"volume {volume}")
    return {"changed": bool(done), "done": done}


def route_phase(module, docker, p):
    proxy, site, done = p["proxy"], p["site"], []
    sites = f"{proxy['dir']}/sites"
    # Two site blocks for one address stop Caddy from loading its configuration at all, which would take
    # every instance on the server offline; only a route left by an earlier registration of the server
    # (or a lost removal) can hold this instance's address, since the control plane gives each address
    # to one instance.
    pattern = re.compile(f"^(http://)?{re.escape(site['hostname'])} [{{]")
    for name in sorted(os.listdir(sites)):
        path = os.path.join(sites, name)
        if name.endswith(".caddy") and name != site["file"] and os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                if any(pattern.match(line) for line in handle):
                    os.remove(path)
                    done.append(f"removed the stale route {name}")
    if place_file(f"{sites}/{site['file']}", p["contents"][site["src"]], 0o644):
        done.append("route")
    attached = docker.inspect("network", p["network"]) or module.fail_json(msg=f"missing: {p['network']}")
    container = docker.inspect("container", proxy["name"]) or module.fail_json(
        msg=f"missing: {proxy['name']}"
    )
    if container["Id"] not in (attached.get("Containers") or {}):
        docker.run("network", "connect", p["network"], proxy["name"])
        done.append("proxy attached to the instance network")
    if done or p["proxy_config_changed"]:
        reload_proxy(docker, proxy)
        done.append("reloaded")
    return {"changed": bool(done), "done": done}


def unroute_phase(module, docker, p):
    """One route less (a space of a shared instance that goes): the instance's own route stays."""
    proxy = p["proxy"]
    route = f"{proxy['dir']}/sites/{p['site_file']}"
    if not os.path.lexists(route):
        return {"changed": False, "done": []}
    os.remove(route)
    if docker.inspect("container", proxy["name"]) is not None:
        reload_proxy(docker, proxy)
    return {"changed": True, "done": ["route", "reloaded"]}


def remove_phase(module, docker, p):
    proxy, label, done = p["proxy"], p["label"], []
    route = f"{proxy['dir']}/sites/{p['site_file']}"
    if os.path.lexists(route):
        os.remove(route)
        done.append("route")
    containers = docker.listed("ps", "--all", "--quiet", "--no-trunc", "--filter", f"label={label}")
    if containers:
        docker.run("rm", "--force", *containers)
        done.append(f"{len(containers)} container(s)")
    for network in docker.listed("network", "ls", "--quiet", "--no-trunc", "--filter", f"label={label}"):
        # The proxy (and anything else still attached) is detached first, as docker_network's force did.
        for attached in (docker.inspect("network", network) or {}).get("Containers") or {}:
            docker.run("network", "disconnect", "--force", network, attached, check=False)
        docker.run("network", "rm", network)
        done.append(f"network {network}")
    volumes = docker.listed("volume", "ls", "--quiet", "--filter", f"label={label}")
    if volumes:
        docker.run("volume", "rm", *volumes)
        done.append(f"{len(volumes)} volume(s)")
    if os.path.lexists(p["instance_dir"]):
        shutil.rmtree(p["instance_dir"])
        done.append("instance folder")
    # A server whose proxy is gone has no route to drop.
    if "route" in done and docker.inspect("container", proxy["name"]) is not None:
        reload_proxy(docker, proxy, check=False)
    return {"changed": bool(done), "done": done}


PHASES = {
    "proxy": proxy_phase,
    "instance": instance_phase,
    "route": route_phase,
    "unroute": unroute_phase,
    "remove": remove_phase,
}


def main():
    module = AnsibleModule(
        argument_spec={
            "phase": {"type": "str", "required": True, "choices": sorted(PHASES)},
            "contents": {"type": "dict", "default": {}, "no_log": True},
            "proxy": {"type": "dict"},
            "instance_dir": {"type": "str"},
            "files": {"type": "list", "elements": "dict", "default": []},
            "network": {"type": "str"},
            "labels": {"type": "dict", "default": {}},
            "volumes": {"type": "list", "elements": "str", "default": []},
            "site": {"type": "dict"},
            "site_file": {"type": "str"},
            "label": {"type": "str"},
            "proxy_config_changed": {"type": "bool", "default": False},
        },
    )
    phase = module.params["phase"]
    module.exit_json(**PHASES[phase](module, Docker(module), module.params))


if __name__ == "__main__":
    main()
