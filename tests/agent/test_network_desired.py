"""The overlay's desired state: what each host must program, from objects alone."""

from __future__ import annotations

from typing import Any

from kumo.agent import network_desired as nd
from kumo.model import network as nm

NET_A = "aaaaaaaa-0000-4000-8000-000000000001"
NET_B = "bbbbbbbb-0000-4000-8000-000000000002"
SUB_A = "5aaaaaaa-0000-4000-8000-000000000001"


def net(nid: str, vni: int, ns: str = "p1") -> dict[str, Any]:
    return {"kind": nm.NETWORK, "metadata": {"name": nid, "namespace": ns},
            "spec": {"segmentationId": vni, "mtu": 1450}}


def subnet() -> dict[str, Any]:
    return {"kind": nm.SUBNET, "metadata": {"name": SUB_A, "namespace": "p1"},
            "spec": {"networkId": NET_A, "cidr": "10.0.0.0/24", "gatewayIp": "10.0.0.1",
                     "enableDhcp": True}}


def port(pid: str, nid: str, host: str | None, mac: str, ip: str | None,
         owner: str = "compute:nova") -> dict[str, Any]:
    return {"kind": nm.PORT, "metadata": {"name": pid, "namespace": "p1"},
            "spec": {"networkId": nid, "bindingHostId": host, "macAddress": mac,
                     "deviceOwner": owner,
                     "fixedIps": [{"subnetId": SUB_A, "ipAddress": ip}] if ip else []}}


def host(name: str, vtep: str | None) -> dict[str, Any]:
    return {"kind": "Host", "metadata": {"name": name}, "status": {"vtepIp": vtep}}


HOSTS = [host("h1", "198.18.0.11"), host("h2", "198.18.0.12"), host("h3", "198.18.0.13")]


def test_local_ports_get_devices_and_remote_ports_get_l2pop_entries() -> None:
    ports = [port("p0000000001a", NET_A, "h1", "fa:16:3e:00:00:01", "10.0.0.5"),
             port("p0000000002a", NET_A, "h2", "fa:16:3e:00:00:02", "10.0.0.6"),
             port("p0000000003a", NET_A, "h3", "fa:16:3e:00:00:03", "10.0.0.7"),
             port("p0000000004a", NET_B, "h2", "fa:16:3e:00:00:04", None)]
    d = nd.compute("h1", "198.18.0.11", ports, [net(NET_A, 100), net(NET_B, 200)], [subnet()],
                   HOSTS)
    assert d.bridges == {nm.bridge_name(100): 1450}
    assert d.vxlans == {"kvx-100": (100, nm.bridge_name(100), 1450)}
    assert set(d.taps) == {nm.tap_name("p0000000001a")}
    assert d.fdb["kvx-100"] == {
        ("fa:16:3e:00:00:02", "198.18.0.12"), ("fa:16:3e:00:00:03", "198.18.0.13"),
        (nd.FLOOD_MAC, "198.18.0.12"), (nd.FLOOD_MAC, "198.18.0.13")}
    assert d.neigh["kvx-100"] == {("10.0.0.6", "fa:16:3e:00:00:02"),
                                    ("10.0.0.7", "fa:16:3e:00:00:03")}
    assert "kvx-200" not in d.fdb  # no local port on NET_B: nothing for it here


def test_deleted_host_loses_its_entries_everywhere() -> None:
    ports = [port("p0000000001a", NET_A, "h1", "fa:16:3e:00:00:01", "10.0.0.5"),
             port("p0000000003a", NET_A, "h3", "fa:16:3e:00:00:03", "10.0.0.7")]
    d = nd.compute("h1", "198.18.0.11", ports, [net(NET_A, 100)], [subnet()], HOSTS[:2])
    assert d.fdb["kvx-100"] == set() and d.neigh["kvx-100"] == set()


def test_single_host_without_vtep_has_no_vxlan() -> None:
    ports = [port("p0000000001a", NET_A, "h1", "fa:16:3e:00:00:01", "10.0.0.5")]
    d = nd.compute("h1", None, ports, [net(NET_A, 100)], [subnet()], [host("h1", None)])
    assert d.vxlans == {} and d.fdb == {} and set(d.taps) == {nm.tap_name("p0000000001a")}


def test_dhcp_port_plan_has_static_hosts_and_metadata_address() -> None:
    ports = [port("d0000000001a", NET_A, "h1", "fa:16:3e:00:00:aa", "10.0.0.2",
                  owner=nm.DHCP_OWNER),
             port("p0000000002a", NET_A, "h2", "fa:16:3e:00:00:02", "10.0.0.6")]
    d = nd.compute("h1", "198.18.0.11", ports, [net(NET_A, 100)], [subnet()], HOSTS)
    plan = d.dhcp[NET_A]
    assert plan.netns == f"qdhcp-{NET_A}" and plan.server_ip == "10.0.0.2"
    assert plan.addresses == ("10.0.0.2/24", "169.254.169.254/32")
    assert plan.hosts == (("fa:16:3e:00:00:02", "10.0.0.6", "host-10-0-0-6"),)
    assert d.taps == {}  # the DHCP port is a veth into the namespace, not a tap
