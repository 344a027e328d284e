"""Designate through the real `openstack zone …` / `openstack recordset …` (designateclient)
against `kumo up`, whose Knot secondary must then answer for what was made."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
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


ZONE_FILE = """$ORIGIN roundtrip.example.
$TTL 300
@ IN SOA ns.roundtrip.example. admin.roundtrip.example. 1 3600 600 86400 300
www IN A 10.8.0.1
mail IN MX 10 mx.roundtrip.example.
"""


def test_cli_import_export_round_trip(cloud: LiveCloud, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "zone.txt"
    path.write_text(ZONE_FILE)
    imp = cloud.openstack("zone", "import", "create", str(path))
    assert imp["status"] == "COMPLETE", imp
    z = _wait(cloud, "roundtrip.example.")
    assert z["status"] == "ACTIVE" and z["email"] == "admin@roundtrip.example"
    r = _ask(_knot(cloud), "www.roundtrip.example.", "A")
    deadline = time.monotonic() + 10
    while not r.answer and time.monotonic() < deadline:
        time.sleep(0.1)
        r = _ask(_knot(cloud), "www.roundtrip.example.", "A")
    assert r.answer[0][0].address == "10.8.0.1"
    exp = cloud.openstack("zone", "export", "create", "roundtrip.example.")
    text = cloud.openstack("zone", "export", "showfile", exp["id"])["data"]
    assert "www.roundtrip.example. 300 IN A 10.8.0.1" in text
    assert "mail.roundtrip.example. 300 IN MX 10 mx.roundtrip.example." in text
    cloud.openstack("zone", "delete", "roundtrip.example.")
    path.write_text(text)
    again = cloud.openstack("zone", "import", "create", str(path))
    assert again["status"] == "COMPLETE", again
    sets = cloud.openstack("recordset", "list", "roundtrip.example.")
    assert {(s["name"], s["type"]) for s in sets} >= {("www.roundtrip.example.", "A"),
                                                      ("mail.roundtrip.example.", "MX")}
    cloud.openstack("zone", "delete", "roundtrip.example.")


def _other_cloud(cloud: LiveCloud, tmp_path) -> Path:  # noqa: ANN001
    import yaml

    cloud.openstack("project", "create", "dns-other")
    cloud.openstack("user", "create", "--password", "dns-other-pw1", "dns-other")
    cloud.openstack("role", "add", "--project", "dns-other", "--user", "dns-other", "member",
                    json_out=False)
    doc = yaml.safe_load(cloud.clouds_yaml.read_text())
    auth = doc["clouds"]["kumo"]["auth"]
    auth.update(username="dns-other", password="dns-other-pw1", project_name="dns-other")
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_cli_transfer_between_projects(cloud: LiveCloud, tmp_path) -> None:  # noqa: ANN001
    other = _other_cloud(cloud, tmp_path)
    cloud.openstack("zone", "create", "--email", "a@moved.example", "moved.example.")
    pid = cloud.openstack("project", "show", "dns-other")["id"]
    req = cloud.openstack("zone", "transfer", "request", "create", "--target-project-id",
                          pid, "moved.example.")
    acc = cloud.openstack("zone", "transfer", "accept", "request", "--transfer-id", req["id"],
                          "--key", req["key"], clouds_yaml=other)
    assert acc["status"] == "COMPLETE"
    mine = cloud.openstack("zone", "list", clouds_yaml=other)
    assert [z["name"] for z in mine] == ["moved.example."]
    assert "moved.example." not in [z["name"] for z in cloud.openstack("zone", "list")]
    cloud.openstack("zone", "delete", "moved.example.", clouds_yaml=other)


def test_openstacksdk_dns_proxy(cloud: LiveCloud) -> None:
    import openstack

    conn = openstack.connect(auth_url=cloud.base_url + "/v3", username="admin",
                             password=cloud.admin_password, project_name="admin",
                             user_domain_id="default", project_domain_id="default",
                             region_name="RegionOne")
    try:
        z = conn.dns.create_zone(name="sdk.example.", email="a@sdk.example", ttl=900)
        rs = conn.dns.create_recordset(z, name="api.sdk.example.", type="AAAA",
                                       records=["fd00::5"])
        assert rs.records == ["fd00::5"]
        found = [r.name for r in conn.dns.recordsets(z, type="AAAA")]
        assert found == ["api.sdk.example."]
        assert conn.dns.get_zone(z.id).ttl == 900
        conn.dns.delete_zone(z)
    finally:
        conn.close()
