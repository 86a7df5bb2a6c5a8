"""Memory and disk of N associations' WordPress: N dedicated instances against N spaces in one shared one.

`provisioner up` (embedded mode) with one sshd test server; WordPress and MariaDB from the images built
from Debian packages. First N associations each get a dedicated WordPress (N = 2, then 5, then 10,
adding to the ones there), then the same number of associations each get a space in one shared
WordPress (a network site each). At each N every site's front page is asked a few times through the
proxy (so each has served requests), then after a pause the containers' memory and the instances'
disk are read from Docker. See README.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.support` when run as a script

import docker

from benchmarks.deploy_support import BenchError, code_version
from benchmarks.results_file import publish
from tests.conftest import REGISTRY
from tests.support.api_client import ApiClient, new_tenant
from tests.support.images import build_all
from tests.support.lab import (
    INSTANCE_LABEL,
    add_server,
    approve,
    remove_every_instance,
    remove_instance,
    request_instance,
    succeeded,
)
from tests.support.proxy import get_by_hostname, remove_proxies, root_ca
from tests.support.sshd import TestServer, free_address_pair, running_servers
from tests.support.stack import _tail, embedded_stack

REPO = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- spaces-footprint:begin -->", "<!-- spaces-footprint:end -->"
MIB = 1024 * 1024


class Lab:
    def __init__(self, cleanup: ExitStack, args: argparse.Namespace) -> None:
        self.args = args
        self.docker = client = docker.from_env()
        cleanup.callback(client.close)
        for recipe, name in (("wordpress/image", "wordpress"), ("_images/mariadb", "mariadb"),
                             ("_images/proxy", "proxy")):  # fmt: skip
            build_all(recipe, f"provisioner/{name}", client=client, registry=REGISTRY)
        work = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="spaces-footprint-")))
        (work / "sshd").mkdir()
        self.server: TestServer = cleanup.enter_context(
            running_servers(work / "sshd", [free_address_pair()[0]])
        )[0]
        self.stack = cleanup.enter_context(
            embedded_stack(work / "data", ssh_key=self.server.client_key, registry=REGISTRY)
        )
        self.operator = cleanup.enter_context(ApiClient(self.stack.base_url, self.stack.operator_token))
        # Room for the largest N dedicated (each reserves one core, 512 MiB and 5 GB).
        self.server_id = add_server(self.operator, self.server, cpu=max(args.counts) + 1)
        cleanup.callback(remove_proxies, client, [self.server_id])
        # Whatever is left (while the API still answers): every instance's containers, networks, volumes.
        cleanup.callback(remove_every_instance, client, self.operator)
        self.cleanup = cleanup
        self.admins: list[ApiClient] = []
        self.ca = ""
        self.proxy_started = False

    def association(self, slug: str) -> ApiClient:
        return self.cleanup.enter_context(new_tenant(self.operator, self.stack.base_url, slug)[1])

    def wait(self, client: ApiClient, job: dict[str, Any]) -> None:
        succeeded(client, job["id"], timeout=1200)

    def dedicated(self, slugs: list[str]) -> list[str]:
        """A dedicated WordPress for each new association, approved at once; their instance ids."""
        accepted = []
        for slug in slugs:
            admin = self.association(slug)
            requested = request_instance(admin, template="wordpress", name="web", subdomain=slug)
            job = {"id": approve(self.operator, requested["id"], self.server_id)}
            accepted.append((admin, job, requested["id"]))
            if not self.proxy_started:  # the server's first deploy starts its proxy, before any other
                self.wait(admin, job)
                self.proxy_started = True
        for admin, job, _ in accepted:
            self.wait(admin, job)
        return [instance_id for *_, instance_id in accepted]

    def spaces(self, slugs: list[str]) -> str:
        """A space for each new association, approved at once; the shared instance's id."""
        accepted = []
        for slug in slugs:
            admin = self.association(slug)
            body = {"template": "wordpress", "name": "web", "subdomain": slug}
            space = admin.call("POST", "/api/v1/spaces", expect=201, json=body)
            approve = f"/api/v1/spaces/{space['id']}/approve"
            accepted.append(
                (admin, self.operator.call("POST", approve, expect=202, json={"server": self.server_id}))
            )
        for admin, answer in accepted:
            self.wait(admin, answer["job"])
        shared = {answer["job"]["instance"] for _, answer in accepted}
        if len(shared) != 1:
            raise BenchError(f"the spaces went into {len(shared)} shared instances, not one")
        return shared.pop()

    def visit(self, slugs: list[str]) -> None:
        """Each site's front page and login page, a few times through the proxy, as its visitors would."""
        if not self.ca:
            self.ca = root_ca(self.docker, self.server_id)
        for slug in slugs:
            for path in ("/", "/wp-login.php") * self.args.visits:
                answer = get_by_hostname(f"https://{slug}.localhost/", address=self.server.address,
                                         ca_pem=self.ca, path=path)  # fmt: skip
                if answer.status_code >= 400:
                    raise BenchError(f"{slug}{path} answered {answer.status_code}")

    def footprint(self, instance_ids: list[str]) -> dict[str, float]:
        """Memory (the containers' cgroups without their inactive file cache, as `docker stats` shows it)
        and disk (the instances' volumes and the containers' writable layers), MiB."""
        time.sleep(self.args.settle)
        memory = disk = 0
        containers = 0
        for instance_id in instance_ids:
            label = {"label": f"{INSTANCE_LABEL}={instance_id}"}
            for container in self.docker.api.containers(filters=label, size=True):
                stats = self.docker.api.stats(container["Id"], stream=False)["memory_stats"]
                memory += stats["usage"] - stats.get("stats", {}).get("inactive_file", 0)
                disk += container.get("SizeRw") or 0
                containers += 1
            for volume in self.docker.volumes.list(filters=label):
                du = subprocess.run(["du", "-sb", volume.attrs["Mountpoint"]], capture_output=True, text=True,
                                    check=True)  # fmt: skip
                disk += int(du.stdout.split()[0])
        return {"memory": memory / MIB, "disk": disk / MIB, "containers": containers}


def run(args: argparse.Namespace, cleanup: ExitStack) -> dict[int, dict[str, dict[str, float]]]:
    lab = Lab(cleanup, args)
    figures: dict[int, dict[str, dict[str, float]]] = {}
    try:
        dedicated: list[str] = []
        slugs: list[str] = []
        for count in args.counts:
            new = [f"dedicated-{n}" for n in range(len(slugs), count)]
            dedicated += lab.dedicated(new)
            slugs += new
            lab.visit(slugs)
            figures[count] = {"dedicated": lab.footprint(dedicated)}
            print(f"{count} dedicated: {figures[count]['dedicated']}", file=sys.stderr)
        for instance_id in dedicated:  # measured: their room goes back to the machine before the spaces
            remove_instance(lab.docker, instance_id)
        lab.operator.call("PUT", "/api/v1/catalog/wordpress/modes", expect=200,
                          json={"modes": ["dedicated", "shared"]})  # fmt: skip
        slugs = []
        for count in args.counts:
            new = [f"space-{n}" for n in range(len(slugs), count)]
            shared = lab.spaces(new)
            slugs += new
            lab.visit(slugs)
            figures[count]["shared"] = lab.footprint([shared])
            print(f"{count} spaces: {figures[count]['shared']}", file=sys.stderr)
    except Exception:
        print(f"--- logs of the provisioner:\n{_tail(lab.stack.logs)}", file=sys.stderr)
        raise
    return figures


def report(figures: dict[int, dict[str, dict[str, float]]], args: argparse.Namespace,
           load: tuple[float, float], code: str) -> str:  # fmt: skip
    rows = []
    for count, f in figures.items():
        d, s = f["dedicated"], f["shared"]
        rows.append(
            f"| {count} | {d['memory']:.0f} ({d['memory'] / count:.0f}) | {s['memory']:.0f} "
            f"({s['memory'] / count:.0f}) | {s['memory'] / d['memory']:.2f} | {d['disk']:.0f} "
            f"({d['disk'] / count:.1f}) | {s['disk']:.0f} ({s['disk'] / count:.1f}) | "
            f"{s['disk'] / d['disk']:.2f} |"
        )
    counts = " ".join(str(c) for c in args.counts)
    return "\n".join([
        BEGIN,
        "## WordPress for N associations: N dedicated instances against N spaces in one shared instance",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by "
        f"`benchmarks/spaces_footprint.py --counts {counts}`: "
        "`provisioner up` (embedded mode) with one sshd test server on loopback; WordPress 6.1 and MariaDB "
        "10.11 from the images built from Debian packages. Dedicated: one WordPress and one MariaDB "
        "container per association. Shared: one WordPress network (multisite) with its MariaDB, a site per "
        "association. At each N every site's front page and login page were asked "
        f"{args.visits} times through the server's proxy, then after {args.settle:.0f} s the figures were "
        "read. Memory: the containers' cgroups without their inactive file cache (what `docker stats` "
        "shows). Disk: the instances' volumes (`du`) and the containers' writable layers; the images are "
        "the same on both sides and counted on neither. The server's proxy serves both and is left out.",
        "",
        f"- Machine: {os.cpu_count()} cores; load average {load[0]:.2f} before, {load[1]:.2f} after; {code}",
        "",
        "| N | dedicated: memory, MiB (per association) | shared: memory, MiB (per space) | shared ÷ "
        "dedicated | dedicated: disk, MiB (per association) | shared: disk, MiB (per space) | shared ÷ "
        "dedicated |",
        "|---|---|---|---|---|---|---|",
        *rows,
        END,
    ])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--counts", type=int, nargs="+", default=[2, 5, 10], help="N, rising (default 2 5 10)"
    )
    parser.add_argument("--visits", type=int, default=3, help="front and login page requests per site")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before reading the figures")
    parser.add_argument("--write", action="store_true", help="replace this section of results.md")
    args = parser.parse_args()
    if args.counts != sorted(set(args.counts)) or args.counts[0] < 1:
        parser.error("--counts must rise and be at least 1")
    load_before, code = os.getloadavg()[0], code_version(REPO)
    try:
        with ExitStack() as cleanup:
            figures = run(args, cleanup)
    except KeyboardInterrupt:
        print("spaces_footprint: interrupted; what it started is cleaned up", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"spaces_footprint: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    publish(BEGIN, END, report(figures, args, (load_before, os.getloadavg()[0]), code), write=args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
