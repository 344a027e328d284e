"""Neutron dns-integration end to end against `kumo up`: openstacksdk sets ``dns_name``
on a port in a network with ``dns_domain`` and the Knot secondary answers the port's
address; the port deleted → NXDOMAIN; a floating IP's ``dns_name``/``dns_domain`` and its
PTR (``openstack ptr record set``) answered by Knot too, and gone with the floating IP."""

from __future__ import annotations

import ipaddress
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.conftest import LiveCloud

pytestmark = pytest.mark.skipif(shutil.which("knotd") is None, reason="knotd not installed")


def _answer(server: tuple[str, int], name: str, rtype: str,
            want: Callable[[dns.message.Message], bool], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = dns.query.udp(dns.message.make_query(name, rtype), server[0],
                                 port=server[1], timeout=2)
        except (dns.exception.DNSException, OSError):
            last = None
        if last is not None and want(last):
            return last
        time.sleep(0.1)
    raise AssertionError(f"{name} {rtype}: no wanted answer in {timeout}s, last {last}")


def _knot(cloud: LiveCloud, timeout: float = 15) -> tuple[str, int]:
    """The Knot secondary of `kumo up` (started beside the API, so maybe a moment later)."""
    from kumo.agent.dns import kept_listen

    deadline = time.monotonic() + timeout
    while (found := kept_listen(cloud.data_dir / "agent" / "dns")) is None:
        assert time.monotonic() < deadline, "kumo up started no Knot secondary"
        time.sleep(0.1)
    return found


def _has(*values: str) -> Callable[[dns.message.Message], bool]:
    return lambda r: bool(r.answer) and sorted(x.to_text() for x in r.answer[0]) == \
        sorted(values)


def _nx(r: dns.message.Message) -> bool:
    return r.rcode() == dns.rcode.NXDOMAIN


@pytest.fixture
def conn(cloud: LiveCloud) -> Iterator[Any]:
    import openstack

    c = openstack.connect(auth_url=cloud.base_url + "/v3", username="admin",
                          password=cloud.admin_password, project_name="admin",
                          user_domain_id="default", project_domain_id="default",
                          region_name="RegionOne")
    try:
        yield c
    finally:
        c.close()


def test_port_dns_name_published_and_removed(cloud: LiveCloud, conn: Any) -> None:
    knot = _knot(cloud)
    exts = {e.alias for e in conn.network.extensions()}
    assert "dns-integration" in exts
    zone = conn.dns.create_zone(name="netdns.example.", email="a@netdns.example")
    net = conn.network.create_network(name="dnsnet", dns_domain="netdns.example.")
    try:
        assert net.dns_domain == "netdns.example."
        conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.77.0.0/24")
        port = conn.network.create_port(network_id=net.id, dns_name="web")
        ip = port.fixed_ips[0]["ip_address"]
        assert port.dns_name == "web"
        assert port.dns_assignment[0]["hostname"] == "web"
        assert port.dns_assignment[0]["ip_address"] == ip
        _answer(knot, "web.netdns.example.", "A", _has(ip))
        rev = ipaddress.ip_address(ip).reverse_pointer + "."
        _answer(knot, rev, "PTR", _has("web.netdns.example."))
        conn.network.update_port(port, dns_name="api")
        _answer(knot, "api.netdns.example.", "A", _has(ip))
        _answer(knot, "web.netdns.example.", "A", _nx)
        _answer(knot, rev, "PTR", _has("api.netdns.example."))
        # the user's own recordsets in the zone are left alone
        own = conn.dns.create_recordset(zone, name="mine.netdns.example.", type="A",
                                        records=["10.9.9.9"])
        conn.network.delete_port(port)
        _answer(knot, "api.netdns.example.", "A", _nx)
        _answer(knot, rev, "PTR", _nx)
        _answer(knot, "mine.netdns.example.", "A", _has("10.9.9.9"))
        assert conn.dns.get_recordset(own, zone).records == ["10.9.9.9"]
    finally:
        conn.network.delete_network(net)
        conn.dns.delete_zone(zone)


def test_floating_ip_name_and_ptr(cloud: LiveCloud, conn: Any) -> None:
    knot = _knot(cloud)
    zone = conn.dns.create_zone(name="fipdns.example.", email="a@fipdns.example")
    ext = conn.network.create_network(name="dns-ext", is_router_external=True)
    try:
        conn.network.create_subnet(network_id=ext.id, ip_version=4, cidr="10.78.0.0/24")
        fip = conn.network.create_ip(floating_network_id=ext.id, dns_name="edge",
                                     dns_domain="fipdns.example.")
        addr = fip.floating_ip_address
        assert (fip.dns_name, fip.dns_domain) == ("edge", "fipdns.example.")
        _answer(knot, "edge.fipdns.example.", "A", _has(addr))
        key = f"RegionOne:{fip.id}"
        cloud.openstack("ptr", "record", "set", key, "edge.fipdns.example.")
        rev = ipaddress.ip_address(addr).reverse_pointer + "."
        _answer(knot, rev, "PTR", _has("edge.fipdns.example."))
        shown = cloud.openstack("ptr", "record", "show", key)
        assert shown["ptrdname"] == "edge.fipdns.example." and shown["address"] == addr
        listed = cloud.openstack("ptr", "record", "list")
        assert any(r["id"] == key for r in listed)
        cloud.openstack("ptr", "record", "unset", key, json_out=False)
        _answer(knot, rev, "PTR", _nx)
        cloud.openstack("ptr", "record", "set", key, "again.fipdns.example.")
        _answer(knot, rev, "PTR", _has("again.fipdns.example."))
        conn.network.delete_ip(fip)
        _answer(knot, rev, "PTR", _nx)
        _answer(knot, "edge.fipdns.example.", "A", _nx)
    finally:
        conn.network.delete_network(ext)
        conn.dns.delete_zone(zone)


def test_bad_names_refused(cloud: LiveCloud, conn: Any) -> None:
    from openstack import exceptions

    with pytest.raises(exceptions.BadRequestException, match="dns_domain"):
        conn.network.create_network(name="bad-dns", dns_domain="no spaces.example.")
    net = conn.network.create_network(name="ok-dns", dns_domain="ok.example")
    try:
        assert net.dns_domain == "ok.example."  # Neutron adds the trailing dot
        with pytest.raises(exceptions.BadRequestException, match="dns_name"):
            conn.network.create_port(network_id=net.id, dns_name="under_score!")
        port = conn.network.create_port(network_id=net.id)
        try:
            assert port.dns_name == ""
            r = conn.network.put(f"/ports/{port.id}", json={"port": {"dns_assignment": []}})
            assert r.status_code == 400 and "dns_assignment" in r.text
        finally:
            conn.network.delete_port(port)
    finally:
        conn.network.delete_network(net)
    p = cloud.openstack("ptr", "record", "set", "RegionOne:not-a-fip", "x.example.",
                        check=False)
    assert p.returncode != 0 and "not-a-fip could not be found" in p.stderr, p.stderr
