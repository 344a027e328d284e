"""The networking service through the real `openstack` CLI against a live `kumo up`.

The session cloud is shared with other tests: every name here is unique, and
assertions only look at this test's own resources.
"""

from __future__ import annotations

import uuid

import pytest

pytestmark = [pytest.mark.e2e]


def _u(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_network_subnet_port_lifecycle(cloud) -> None:
    os_ = cloud.openstack
    name = _u("e2e-net")
    net = os_("network", "create", "--description", "made by e2e", "--tag", "blue", name)
    assert net["name"] == name and net["status"] == "ACTIVE" and net["mtu"] == 1450
    assert net["provider:network_type"] == "vxlan" and net["provider:segmentation_id"] > 0
    nid = net["id"]
    shown = os_("network", "show", name)
    assert shown["id"] == nid and shown["tags"] == ["blue"]
    assert shown["description"] == "made by e2e"

    listed = os_("network", "list", "--long")
    assert nid in {n["ID"] for n in listed}
    assert [n["ID"] for n in os_("network", "list", "--tags", "blue", "--name", name)] == [nid]

    os_("network", "set", "--name", name + "-x", "--tag", "green", "--mtu", "1400", nid,
        json_out=False)
    shown = os_("network", "show", nid)
    assert shown["name"] == name + "-x" and shown["mtu"] == 1400
    assert sorted(shown["tags"]) == ["blue", "green"]

    sub = os_("subnet", "create", "--network", nid, "--subnet-range", "10.77.0.0/24",
              "--allocation-pool", "start=10.77.0.10,end=10.77.0.100",
              "--dns-nameserver", "10.77.0.53",
              "--host-route", "destination=10.99.0.0/16,gateway=10.77.0.254",
              _u("e2e-sub"))
    assert sub["cidr"] == "10.77.0.0/24" and sub["gateway_ip"] == "10.77.0.1"
    assert sub["allocation_pools"] == [{"start": "10.77.0.10", "end": "10.77.0.100"}]
    assert sub["dns_nameservers"] == ["10.77.0.53"]
    assert sub["host_routes"] == [{"destination": "10.99.0.0/16", "nexthop": "10.77.0.254"}]
    sid = sub["id"]

    port = os_("port", "create", "--network", nid, "--fixed-ip",
               f"subnet={sid},ip-address=10.77.0.42", _u("e2e-port"))
    assert port["fixed_ips"] == [{"subnet_id": sid, "ip_address": "10.77.0.42"}]
    assert port["mac_address"].startswith("fa:16:3e:")
    pid = port["id"]

    dup = os_("port", "create", "--network", nid, "--fixed-ip",
              f"subnet={sid},ip-address=10.77.0.42", _u("e2e-dup"), check=False)
    assert dup.returncode != 0
    assert "IP address 10.77.0.42 already allocated in subnet" in dup.stderr

    auto = os_("port", "create", "--network", nid, _u("e2e-auto"))
    ip = auto["fixed_ips"][0]["ip_address"]
    assert ip != "10.77.0.42"
    parts = [int(x) for x in ip.split(".")]
    assert parts[:3] == [10, 77, 0] and 10 <= parts[3] <= 100

    ports = os_("port", "list", "--network", nid)
    assert {pid, auto["id"]} <= {p["ID"] for p in ports}
    found = os_("port", "list", "--fixed-ip", "ip-address=10.77.0.42", "--network", nid)
    assert [p["ID"] for p in found] == [pid]

    os_("port", "set", "--name", "renamed", "--fixed-ip",
        f"subnet={sid},ip-address=10.77.0.43", "--no-fixed-ip", pid, json_out=False)
    shown = os_("port", "show", pid)
    assert shown["name"] == "renamed"
    assert shown["fixed_ips"] == [{"subnet_id": sid, "ip_address": "10.77.0.43"}]

    busy = os_("network", "delete", nid, json_out=False, check=False)
    assert busy.returncode != 0
    busy2 = os_("subnet", "delete", sid, json_out=False, check=False)
    assert busy2.returncode != 0

    os_("port", "delete", pid, auto["id"], json_out=False)
    os_("network", "delete", nid, json_out=False)
    gone = os_("network", "show", nid, check=False)
    assert gone.returncode != 0


def test_network_in_use_message(cloud) -> None:
    os_ = cloud.openstack
    net = os_("network", "create", _u("e2e-inuse"))
    os_("subnet", "create", "--network", net["id"], "--subnet-range", "10.78.0.0/28",
        _u("e2e-inuse-sub"))
    port = os_("port", "create", "--network", net["id"], _u("e2e-inuse-port"))
    busy = cloud.openstack("network", "delete", net["id"], json_out=False, check=False)
    assert busy.returncode != 0
    os_("port", "delete", port["id"], json_out=False)
    os_("network", "delete", net["id"], json_out=False)


def test_security_groups_with_cli(cloud) -> None:
    os_ = cloud.openstack
    name = _u("e2e-sg")
    sg = os_("security", "group", "create", "--description", "web", name)
    assert sg["name"] == name
    gid = sg["id"]
    rule = os_("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port",
               "22:23", "--remote-ip", "10.0.0.0/8", "--ingress", gid)
    assert rule["port_range_min"] == 22 and rule["port_range_max"] == 23
    assert rule["remote_ip_prefix"] == "10.0.0.0/8"
    dup = os_("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port",
              "22:23", "--remote-ip", "10.0.0.0/8", "--ingress", gid, check=False)
    assert dup.returncode != 0 and "Security group rule already exists" in dup.stderr
    rules = os_("security", "group", "rule", "list", gid)
    assert rule["id"] in {r["ID"] for r in rules}
    assert len(rules) == 3  # two default egress rules and ours
    assert name in {g["Name"] for g in os_("security", "group", "list")}
    os_("security", "group", "set", "--name", name + "-x", gid, json_out=False)
    assert os_("security", "group", "show", gid)["name"] == name + "-x"
    os_("security", "group", "rule", "delete", rule["id"], json_out=False)
    os_("security", "group", "delete", gid, json_out=False)
    assert os_("security", "group", "show", gid, check=False).returncode != 0


def test_quota_and_extensions_with_cli(cloud) -> None:
    os_ = cloud.openstack
    quota = os_("quota", "show", "--network")
    text = str(quota)
    assert "network" in text or "networks" in text
    aliases = {e["Alias"] for e in os_("extension", "list", "--network")}
    assert {"security-group", "quotas", "provider", "binding", "standard-attr-tag"} <= aliases


def test_subnet_set_and_long_lists(cloud) -> None:
    os_ = cloud.openstack
    net = os_("network", "create", _u("e2e-lists"))
    nid = net["id"]
    sub = os_("subnet", "create", "--network", nid, "--subnet-range", "10.79.0.0/24",
              "--no-dhcp", "--gateway", "none", "--allocation-pool",
              "start=10.79.0.10,end=10.79.0.20", _u("e2e-lists-sub"))
    assert sub["gateway_ip"] is None and sub["enable_dhcp"] is False
    sid = sub["id"]
    clash = os_("subnet", "set", "--gateway", "10.79.0.15", sid, json_out=False, check=False)
    assert clash.returncode != 0 and "conflicts with allocation pool" in clash.stderr
    os_("subnet", "set", "--dns-nameserver", "10.79.0.2", "--name", "renamed-sub",
        "--gateway", "10.79.0.1", sid, json_out=False)
    shown = os_("subnet", "show", sid)
    assert shown["name"] == "renamed-sub" and shown["dns_nameservers"] == ["10.79.0.2"]
    assert shown["gateway_ip"] == "10.79.0.1"
    assert sid in {s["ID"] for s in os_("subnet", "list", "--network", nid, "--long")}
    bad = os_("subnet", "create", "--network", nid, "--subnet-range", "10.79.0.128/25",
              _u("e2e-overlap"), check=False)
    assert bad.returncode != 0 and "overlaps with another subnet" in bad.stderr
    port = os_("port", "create", "--network", nid, "--mac-address", "fa:16:3e:79:00:01",
               _u("e2e-lists-port"))
    assert port["mac_address"] == "fa:16:3e:79:00:01"
    assert port["id"] in {p["ID"] for p in os_("port", "list", "--long", "--network", nid)}
    os_("port", "delete", port["id"], json_out=False)
    os_("subnet", "delete", sid, json_out=False)
    os_("network", "delete", nid, json_out=False)
