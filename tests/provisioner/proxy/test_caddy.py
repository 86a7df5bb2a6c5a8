"""An instance's route in the server's proxy: what a client says about itself is not passed on."""

from __future__ import annotations

from provisioner.proxy.caddy import TlsMode, site_block


def test_a_route_sets_the_real_client_address_and_drops_a_client_sent_forwarded_header() -> None:
    block = site_block(TlsMode.ACME, hostname="cloud.lab.example", upstream="prv-i-app:80", instance_id="i")
    lines = [line.strip() for line in block.splitlines()]
    assert lines[1:3] == ["cloud.lab.example {", "reverse_proxy prv-i-app:80 {"]
    # X-Forwarded-For/-Proto/-Host from clients Caddy replaces by itself; these two it would pass on.
    assert "header_up X-Real-IP {remote_host}" in lines
    assert "header_up -Forwarded" in lines


def test_without_tls_the_route_answers_plain_http_only() -> None:
    block = site_block(TlsMode.OFF, hostname="site.lab.example", upstream="prv-i-web:80", instance_id="i")
    assert block.splitlines()[1] == "http://site.lab.example {"
