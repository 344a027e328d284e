"""Designate through the real `openstack zone …` / `openstack recordset …` (designateclient)
against `kumo up`, whose Knot secondary must then answer for what was made."""

from __future__ import annotations

import shutil
import time
from typing import Any

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.conftest import LiveCloud

pytestmark = pytest.mark.skipif(shutil.which("knotd") is None, reason="knotd not installed")


def _knot(cloud: LiveCloud) -> tuple[str, int]:
    from kumo.agent.dns import kept_listen

    found = kept_listen(cloud.data_dir / "agent" / "dns")
    assert found is not None, "kumo up started no Knot secondary"
    return found


def _wait(cloud: LiveCloud, zone: str, status: str = "ACTIVE", timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        z = cloud.openstack("zone", "show", zone)
        if z["status"] == status or time.monotonic() > deadline:
            return z
        time.sleep(0.2)


def _ask(server: tuple[str, int], name: str, rtype: str) -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, rtype), server[0], port=server[1],
                         timeout=2)


def test_zone_and_recordset_crud_served_by_knot(cloud: LiveCloud) -> None:
    z = cloud.openstack("zone", "create", "--email", "ops@cli.example", "--ttl", "600",
                        "--description", "cli test", "cli.example.")
    assert z["name"] == "cli.example." and z["status"] == "PENDING" and z["ttl"] == 600
    z = _wait(cloud, "cli.example.")
    assert z["status"] == "ACTIVE", z
    rs = cloud.openstack("recordset", "create", "--type", "A", "--record", "10.9.0.1",
                         "--record", "10.9.0.2", "--ttl", "120", "cli.example.", "www")
    assert rs["name"] == "www.cli.example." and sorted(rs["records"].split()) == [
        "10.9.0.1", "10.9.0.2"] or sorted(rs["records"]) == ["10.9.0.1", "10.9.0.2"]
    knot = _knot(cloud)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = _ask(knot, "www.cli.example.", "A")
        if r.answer:
            break
        time.sleep(0.1)
    assert sorted(rd.address for rd in r.answer[0]) == ["10.9.0.1", "10.9.0.2"]
    assert r.answer[0].ttl == 120
    listed = cloud.openstack("recordset", "list", "cli.example.")
    assert {x["type"] for x in listed} >= {"SOA", "NS", "A"}
    cloud.openstack("recordset", "set", "--record", "10.9.0.3", "cli.example.",
                    "www.cli.example.")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = _ask(knot, "www.cli.example.", "A")
        if r.answer and [rd.address for rd in r.answer[0]] == ["10.9.0.3"]:
            break
        time.sleep(0.1)
    assert [rd.address for rd in r.answer[0]] == ["10.9.0.3"]
    cloud.openstack("recordset", "delete", "cli.example.", "www.cli.example.")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = _ask(knot, "www.cli.example.", "A")
        if r.rcode() == dns.rcode.NXDOMAIN:
            break
        time.sleep(0.1)
    assert r.rcode() == dns.rcode.NXDOMAIN and r.authority  # with the SOA
    cloud.openstack("zone", "delete", "cli.example.")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = _ask(knot, "cli.example.", "SOA")
        if r.rcode() == dns.rcode.REFUSED:  # dropped from the catalog: no longer served
            break
        time.sleep(0.1)
    assert r.rcode() == dns.rcode.REFUSED


def test_cli_error_cases(cloud: LiveCloud) -> None:
    cloud.openstack("zone", "create", "--email", "a@dup.example", "dup.example.")
    p = cloud.openstack("zone", "create", "--email", "a@dup.example", "dup.example.",
                        check=False)
    assert p.returncode != 0 and "Duplicate Zone" in p.stderr
    p = cloud.openstack("zone", "create", "--email", "a@x.example", "no-dot.example",
                        check=False)
    assert p.returncode != 0 and "must end with a dot" in p.stderr
    cloud.openstack("recordset", "create", "--type", "A", "--record", "10.0.0.1",
                    "dup.example.", "host")
    p = cloud.openstack("recordset", "create", "--type", "CNAME", "--record",
                        "other.dup.example.", "dup.example.", "host", check=False)
    assert p.returncode != 0 and "CNAME" in p.stderr
    p = cloud.openstack("recordset", "create", "--type", "A", "--record", "10.0.0.1",
                        "dup.example.", "host.elsewhere.example.", check=False)
    assert p.returncode != 0 and "not inside zone" in p.stderr
    cloud.openstack("zone", "delete", "dup.example.")
