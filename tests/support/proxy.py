"""Reaching instances through a test server's proxy by hostname, with the TLS chain checked against
the proxy's own CA, and tidying proxies away after the tests."""

from __future__ import annotations

import io
import ssl
import tarfile
from urllib.parse import urlsplit

import docker
import docker.errors
import httpx

from provisioner.proxy.caddy import LABEL_PROXY, ROOT_CA_PATH


def proxy_container(client: docker.DockerClient, server_id: str) -> docker.models.containers.Container:
    return client.containers.get(f"prv-proxy-{server_id}")


def root_ca(client: docker.DockerClient, server_id: str) -> str:
    """The root certificate of the proxy's local CA (internal TLS), read out of its container."""
    stream, _ = proxy_container(client, server_id).get_archive(ROOT_CA_PATH)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile("root.crt")
        assert member is not None
        return member.read().decode()


def get_by_hostname(url: str, *, address: str, ca_pem: str, path: str = "/") -> httpx.Response:
    """GET ``url`` from the server at ``address`` without DNS: the hostname goes in the TLS server name
    and the Host header, and the certificate must chain to ``ca_pem`` and name that hostname."""
    return request_by_hostname("GET", url, address=address, ca_pem=ca_pem, path=path)


def request_by_hostname(
    method: str,
    url: str,
    *,
    address: str,
    ca_pem: str,
    path: str = "/",
    data: dict[str, str] | None = None,
    content: bytes | None = None,
    json: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> httpx.Response:
    """Any request the way :func:`get_by_hostname` makes it; redirects are not followed."""
    hostname = urlsplit(url).hostname or ""
    context = ssl.create_default_context(cadata=ca_pem)
    with httpx.Client(verify=context, timeout=20, cookies=cookies) as http:
        return http.request(
            method,
            f"https://{address}{path}",
            data=data,
            content=content,
            json=json,
            auth=auth,
            headers={**(headers or {}), "Host": hostname},
            extensions={"sni_hostname": hostname},
        )


def remove_proxies(client: docker.DockerClient, server_ids: list[str]) -> None:
    for server_id in server_ids:
        label = {"label": f"{LABEL_PROXY}={server_id}"}
        for container in client.containers.list(all=True, filters=label):
            container.remove(force=True)
        for network in client.networks.list(filters=label):
            network.remove()
        for volume in client.volumes.list(filters=label):
            volume.remove(force=True)
