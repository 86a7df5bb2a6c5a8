#!/usr/bin/python3
"""One phase of a deploy or removal on the server, in one task instead of one task per step.

Each task costs Ansible a round trip to the server (1 to 3 s here); a phase made of nine small steps
cost more than the work itself. The phases:

- ``proxy``: the server's reverse proxy runs (its folders and configuration, no proxy of an earlier
  registration holding the server's ports, its network, data volume, image and container);
- ``instance``: the instance's folder and rendered files, its network and volumes;
- ``images``: the containers' images pulled where missing, and a deploy refused whose image keeps
  data in a folder the template does not mount;
- ``start``: the containers created (or made anew when their settings or image changed) and started;
- ``health``: the service asked through the proxy until it answers (for up to ``window`` seconds a
  call), then each component's own endpoint;
- ``route``: the instance's route in the proxy (a stale route for its address removed), the proxy
  attached to the instance network, the proxy reloaded when its configuration changed;
- ``unroute``: one route less, for a space of a shared instance that goes;
- ``remove``: the route, every container, network and volume labelled with the instance, its folder.

Both of the last take ``leftovers``: what backups left on the server for what goes (its prune marker,
the association's restic cache when it was the association's last there), paths the control plane made.

Phases named in ``also`` run after ``phase`` in the same task, in their order.

It runs with the server's Python standard library, Docker Engine's API on its local socket and the
Docker command line for pulls and commands inside containers (server-bootstrap.yml installs both), and
reports changed only when something changed, so a second run converges. The API, not the command line,
creates the containers: their environment holds secrets, which a command line shows to every process.
The action plugin of the same name passes the run's rendered files in ``contents``, which never leave
the server again: results name files, never their contents.
"""

from __future__ import annotations

import fcntl
import grp
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import time
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import AnsibleModule

# The proxy container's settings, hashed into a label: a container whose label differs is made anew.
CONFIG_LABEL = "org.provisioner.proxy.config"
RELOAD = ["caddy", "reload", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
# An instance container's settings, hashed the same way.
CONTAINER_LABEL = "org.provisioner.config"
INSPECT = {
    "container": "/containers/{}/json",
    "image": "/images/{}/json",
    "network": "/networks/{}",
    "volume": "/volumes/{}",
}
# Each component's own endpoint, as the deploy's task for it asked: 30 retries, 2 s apart.
PROBE_TRIES, PROBE_DELAY = 31, 2
UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class Socket(http.client.HTTPConnection):
    """HTTP to Docker Engine over its Unix socket; every call a few milliseconds, no process started."""

    def __init__(self, path):
        super().__init__("localhost", timeout=600)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class Docker:
    def __init__(self, module):
        self.module = module
        self.binary = module.get_bin_path("docker", required=True)
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        if not host.startswith("unix://"):
            module.fail_json(msg=f"DOCKER_HOST: only a local socket (unix://) is supported, not {host}")
        self.socket_path = host[len("unix://") :]

    def api(self, method, path, body=None, *, missing=False, query=None):
        """One call to Docker Engine's API; None for a 404 when ``missing`` allows it."""
        connection = Socket(self.socket_path)
        try:
            payload = None if body is None else json.dumps(body)
            headers = {} if body is None else {"Content-Type": "application/json"}
            url = path + (f"?{urlencode(query)}" if query else "")
            connection.request(method, url, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if response.status == 404 and missing:
            return None
        if response.status >= 400:
            try:
                message = json.loads(data).get("message", "")
            except ValueError:
                message = data.decode(errors="replace")
            self.module.fail_json(msg=f"docker {method} {path}: {message.strip()[:500]}")
        return json.loads(data) if data.strip() else {}

    def labelled(self, path, label):
        return self.api("GET", path, query={"all": "1", "filters": json.dumps({"label": [label]})})

    def run(self, *args, check=True):
        rc, out, err = self.module.run_command([self.binary, *args])
        if check and rc != 0:
            self.module.fail_json(msg=f"docker {' '.join(args[:2])}: {err.strip()[:500]}")
        return rc, out

    def inspect(self, kind, name):
        return self.api("GET", INSPECT[kind].format(quote(name, safe="/:@")), missing=True)

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
        # A run beside this one (two first deploys on one server) may make it between the look and here.
        os.makedirs(path, mode=mode, exist_ok=True)
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
    # One proxy phase at a time per server. Docker looks for a network's name before it makes one, not
    # atomically: two first deploys at once each made the proxy's network, and every later "network
    # connect" by that name failed as ambiguous.
    with open(f"{proxy['dir']}/.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        config_changed = proxy_runs(module, docker, p, done)
    return {"changed": bool(done), "done": done, "config_changed": config_changed}


def proxy_runs(module, docker, p, done):
    """The proxy's configuration, network, volume and container; True when its configuration changed."""
    proxy = p["proxy"]
    config_changed = place_file(f"{proxy['dir']}/Caddyfile", p["contents"]["_proxy/Caddyfile"], 0o644)
    if config_changed:
        done.append("configuration")
    address = proxy["address_label"]
    for found in docker.labelled("/containers/json", address):
        name = found["Names"][0].lstrip("/")
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
    return config_changed


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
        docker.api("POST", f"/networks/{attached['Id']}/connect", {"Container": container["Id"]})
        done.append("proxy attached to the instance network")
    if done or p["proxy_config_changed"]:
        reload_proxy(docker, proxy)
        done.append("reloaded")
    return {"changed": bool(done), "done": done}


def unroute_phase(module, docker, p):
    """One route less (a space of a shared instance that goes): the instance's own route stays."""
    proxy, done = p["proxy"], remove_leftovers(p["leftovers"])
    route = f"{proxy['dir']}/sites/{p['site_file']}"
    if not os.path.lexists(route):
        return {"changed": bool(done), "done": done}
    os.remove(route)
    if docker.inspect("container", proxy["name"]) is not None:
        reload_proxy(docker, proxy)
    return {"changed": True, "done": [*done, "route", "reloaded"]}


def remove_leftovers(paths):
    done = []
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
        else:
            continue
        done.append(path)
    return done


def remove_phase(module, docker, p):
    proxy, label, done = p["proxy"], p["label"], []
    route = f"{proxy['dir']}/sites/{p['site_file']}"
    if os.path.lexists(route):
        os.remove(route)
        done.append("route")
    containers = docker.labelled("/containers/json", label)
    for container in containers:
        docker.api("DELETE", f"/containers/{container['Id']}", query={"force": "1"}, missing=True)
    if containers:
        done.append(f"{len(containers)} container(s)")
    for network in docker.labelled("/networks", label):
        # The proxy (and anything else still attached) is detached first, as docker_network's force did.
        path = f"/networks/{network['Id']}"
        for attached in (docker.api("GET", path, missing=True) or {}).get("Containers") or {}:
            docker.api("POST", f"{path}/disconnect", {"Container": attached, "Force": True}, missing=True)
        docker.api("DELETE", path)
        done.append(f"network {network['Name']}")
    volumes = docker.api("GET", "/volumes", query={"filters": json.dumps({"label": [label]})})["Volumes"]
    for volume in volumes or []:
        docker.api("DELETE", f"/volumes/{quote(volume['Name'])}")
    if volumes:
        done.append(f"{len(volumes)} volume(s)")
    if os.path.lexists(p["instance_dir"]):
        shutil.rmtree(p["instance_dir"])
        done.append("instance folder")
    done += remove_leftovers(p["leftovers"])
    # A server whose proxy is gone has no route to drop.
    if "route" in done and docker.inspect("container", proxy["name"]) is not None:
        reload_proxy(docker, proxy, check=False)
    return {"changed": bool(done), "done": done}


def image_of(module, docker, name):
    """The image's details, pulled first where the server lacks it (a present tag is not pulled again)."""
    image = docker.inspect("image", name)
    if image is None:
        docker.run("pull", "--quiet", name)
        image = docker.inspect("image", name) or module.fail_json(msg=f"not pulled: {name}")
    return image


def images_phase(module, docker, p):
    done, refused = [], []
    for container in p["containers"]:
        if docker.inspect("image", container["image"]) is None:
            done.append(f"pulled {container['image']}")
        image = image_of(module, docker, container["image"])
        # A folder the image keeps as a volume where the template mounts nothing gets an anonymous volume:
        # data no backup copies, no restore brings back and no removal finds.
        declared = {v.rstrip("/") for v in (image.get("Config") or {}).get("Volumes") or {}}
        mounted = {m["target"].rstrip("/") for m in container["mounts"]}
        if declared - mounted:
            refused.append(
                f"{container['alias']}: the image {container['image']} keeps data in"
                f" {', '.join(sorted(declared - mounted))}, which the template does not mount as a volume;"
                " that data would escape backups, restores and removal"
                " (list it under the container's volumes)"
            )
    if refused:
        module.fail_json(msg="; ".join(refused), done=done)
    return {"changed": bool(done), "done": done}


def read_env_file(path):
    """KEY=VALUE lines, as docker_container read them: # lines and blank lines skipped."""
    found = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            key, equals, value = line.strip().partition("=")
            if not equals:
                raise ValueError(f"{path}: a line without '='")
            found[key] = value
    return found


def byte_size(text):
    number, unit = re.fullmatch(r"(\d+)([bkmgBKMG]?)", str(text)).groups()
    return int(number) * UNITS[(unit or "b").lower()]


def container_body(container, network, labels):
    """What Docker Engine's API is asked to create: one container in the instance network under its
    alias, with its mounts, environment (its env file's, then the template's), limits and ports."""
    env = {**(read_env_file(container["env_file"]) if container.get("env_file") else {}), **container["env"]}
    bindings = {}
    for published in container["published_ports"]:
        address, host_port, inner = published.rsplit(":", 2)
        inner = inner if "/" in inner else f"{inner}/tcp"
        bindings.setdefault(inner, []).append({"HostIp": address.strip("[]"), "HostPort": host_port})
    body = {
        "Image": container["image"],
        "Env": [f"{key}={value}" for key, value in env.items()],
        "Labels": dict(labels),
        "ExposedPorts": {port: {} for port in bindings},
        "HostConfig": {
            "Mounts": [
                {
                    "Type": m["type"],
                    "Source": m["source"],
                    "Target": m["target"],
                    "ReadOnly": bool(m.get("read_only")),
                }
                for m in container["mounts"]
            ],
            "NetworkMode": network,
            "RestartPolicy": {"Name": "unless-stopped"},
            "Memory": byte_size(container["memory"]),
            "NanoCpus": int(float(container["cpus"]) * 1e9),
            "PortBindings": bindings,
        },
        "NetworkingConfig": {"EndpointsConfig": {network: {"Aliases": [container["alias"]]}}},
    }
    if container.get("command"):
        body["Cmd"] = list(container["command"])
    return body


def start_phase(module, docker, p):
    done = []
    for container in p["containers"]:
        name, image = container["name"], image_of(module, docker, container["image"])
        try:
            body = container_body(container, p["network"], p["labels"])
        except (OSError, ValueError) as error:
            module.fail_json(msg=f"{container['alias']}: {error}")
        # The hash stands for every setting; the image's id for what its tag points at now.
        wanted = hashlib.sha256(json.dumps([body, image["Id"]], sort_keys=True).encode()).hexdigest()
        body["Labels"][CONTAINER_LABEL] = wanted
        found = docker.inspect("container", name)
        if found is not None and (found["Config"]["Labels"] or {}).get(CONTAINER_LABEL) == wanted:
            if not found["State"]["Running"]:
                docker.api("POST", f"/containers/{found['Id']}/start")
                done.append(f"started {name}")
            continue
        if found is not None:
            # Stopped in its own time (a database flushes its files), then made anew.
            docker.api("POST", f"/containers/{found['Id']}/stop", missing=True)
            docker.api("DELETE", f"/containers/{found['Id']}", query={"force": "1"}, missing=True)
        made = docker.api("POST", "/containers/create", body, query={"name": name})
        docker.api("POST", f"/containers/{made['Id']}/start")
        done.append(f"{'made anew' if found is not None else 'created'} {name}")
    return {"changed": bool(done), "done": done}


def answers(docker, container, argv, status):
    rc, out, err = docker.module.run_command([docker.binary, "exec", container, *argv])
    return rc == 0 and out.strip() == str(status), out.strip()[:200], err.strip()[:200]


def health_phase(module, docker, p):
    """Asks the way a visitor comes in (curl inside the proxy, through its listener) every ``delay``
    seconds for up to ``window`` seconds: those tries cost a command each on the server, not a round
    trip each. Not answered by then, it says so (``answered`` false) and the task's ``until`` calls it
    again, so a long start still shows in the job's log as Ansible's retries. Once answered, each
    component's own endpoint is asked the same way."""
    proxy, started = p["proxy"]["name"], time.monotonic()
    while True:
        ok, out, err = answers(docker, proxy, p["argv"], p["status"])
        if ok:
            break
        if time.monotonic() - started + p["delay"] > p["window"]:
            message = f"the service did not answer {p['status']} through the proxy: {out} {err}"
            return {"changed": False, "answered": False, "msg": message}
        time.sleep(p["delay"])
    for probe in p["probes"]:
        for attempt in range(PROBE_TRIES):
            rc, _out, err = module.run_command([docker.binary, "exec", proxy, *probe])
            if rc == 0:
                break
            if attempt + 1 < PROBE_TRIES:
                time.sleep(PROBE_DELAY)
        else:
            module.fail_json(msg=f"{probe[-1]} did not answer: {err.strip()[:200]}")
    return {"changed": False, "answered": True}


PHASES = {
    "proxy": proxy_phase,
    "instance": instance_phase,
    "route": route_phase,
    "unroute": unroute_phase,
    "remove": remove_phase,
    "images": images_phase,
    "start": start_phase,
    "health": health_phase,
}


def run_phases(module, docker, p):
    """``phase``, then each phase in ``also``, in one task: each task costs a round trip to the server.
    A route after the proxy's phase reloads the proxy when that phase changed its configuration."""
    result = {"changed": False, "done": []}
    for name in [p["phase"], *p["also"]]:
        outcome = PHASES[name](module, docker, p)
        result.update({key: value for key, value in outcome.items() if key not in ("changed", "done")})
        result["changed"] = result["changed"] or outcome["changed"]
        result["done"] = result["done"] + outcome.get("done", [])
        if name == "proxy":
            p["proxy_config_changed"] = outcome["config_changed"]
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "phase": {"type": "str", "required": True, "choices": sorted(PHASES)},
            "also": {"type": "list", "elements": "str", "default": [], "choices": sorted(PHASES)},
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
            "containers": {"type": "list", "elements": "dict", "default": []},
            "argv": {"type": "list", "elements": "str", "default": []},
            "status": {"type": "int", "default": 200},
            "window": {"type": "int", "default": 10},
            "delay": {"type": "int", "default": 2},
            "probes": {"type": "list", "elements": "list", "default": []},
            "leftovers": {"type": "list", "elements": "str", "default": []},
        },
    )
    module.exit_json(**run_phases(module, Docker(module), module.params))


if __name__ == "__main__":
    main()
