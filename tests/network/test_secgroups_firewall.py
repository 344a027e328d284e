"""Security groups enforced by the real nftables driver, with real packets between
"VMs" (namespaces on the host namespace's bridge), desired state computed by the
agent's own function from port and rule objects."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from kumo.agent import network_secgroups_desired as desired
from kumo.drivers.nftables import NftFirewall
from kumo.drivers.nftables_render import TABLE

from .secgroups_lab import Lab, default_rules, long_connection, need_root_nft, rule

P2_DEFAULT = "sg-default-p2"
P1_DEFAULT = "sg-default-p1"


@pytest.fixture
def lab() -> Iterator[Lab]:
    need_root_nft()
    with Lab() as lab:
        yield lab


class World:
    """Ports and rules as the agent's informers would hold them, programmed on change."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.rules: list[dict] = default_rules(P1_DEFAULT) + default_rules(P2_DEFAULT, "p2")
        self.fw = NftFirewall(netns=lab.host)

    def apply(self) -> None:
        ports = [vm.port for vm in self.lab.vms]
        self.fw.apply(desired.compute("h1", ports, self.rules, bridges={"n1": "kbr-77"}))

    def close(self) -> None:
        self.fw.close()


@pytest.fixture
def world(lab: Lab) -> Iterator[World]:
    w = World(lab)
    yield w
    w.close()


def test_default_group_isolates_projects_and_rules_open_exactly_their_port(
        lab: Lab, world: World) -> None:
    a = lab.vm(1, [P1_DEFAULT])
    b = lab.vm(2, [P1_DEFAULT])
    other = lab.vm(3, [P2_DEFAULT], project="p2")
    world.apply()
    lab.serve(a, 22, 80)
    assert lab.connects(b, a, 22), "same default group: members reach each other"
    assert not lab.connects(other, a, 22), "another project's VM is not let in"
    assert lab.connects(a, other, 22) is False  # nothing listens there, and p2 denies
    tcp22 = rule(P1_DEFAULT, "ingress", "tcp", 22, 22, prefix="0.0.0.0/0")
    world.rules.append(tcp22)
    world.apply()
    assert lab.connects(other, a, 22), "the TCP 22 rule opens port 22"
    assert not lab.connects(other, a, 80), "and only port 22"
    world.rules.remove(tcp22)
    world.apply()
    assert not lab.connects(other, a, 22), "removing the rule closes the port again"


def test_remote_group_rules_follow_membership(lab: Lab, world: World) -> None:
    web, db = "sg-web", "sg-db"
    world.rules += [rule(web, "egress"), rule(db, "egress"),
                    rule(db, "ingress", "tcp", 5432, 5432, remote=web)]
    app = lab.vm(1, [web])
    stranger = lab.vm(2, [P1_DEFAULT])
    server = lab.vm(3, [db])
    world.apply()
    lab.serve(server, 5432)
    assert lab.connects(app, server, 5432)
    assert not lab.connects(stranger, server, 5432)
    before = world.fw.applied.sets["r4-sg-web"][1]
    stranger.port["spec"]["securityGroups"] = [P1_DEFAULT, web]
    world.apply()
    assert world.fw.applied.sets["r4-sg-web"][1] - before == {stranger.address}
    assert lab.connects(stranger, server, 5432), "joining the group lets it in"
    app.port["spec"]["securityGroups"] = [P1_DEFAULT]
    world.apply()
    assert not lab.connects(app, server, 5432), "leaving the group shuts it out"


def test_spoofed_ip_or_mac_gets_nothing_through(lab: Lab, world: World) -> None:
    world.rules.append(rule(P1_DEFAULT, "ingress", "tcp", 80, 80, prefix="0.0.0.0/0"))
    a = lab.vm(1, [P1_DEFAULT])
    b = lab.vm(2, [P1_DEFAULT])
    world.apply()
    lab.serve(b, 80)
    assert lab.connects(a, b, 80)
    subprocess.run(["ip", "-n", a.ns, "addr", "add", "10.77.0.99/24", "dev", "eth0"],
                   check=True)
    assert not lab.connects(a, b, 80, source="10.77.0.99"), "a spoofed source IP is dropped"
    assert lab.connects(a, b, 80), "its own address still works"
    subprocess.run(["ip", "-n", a.ns, "link", "set", "eth0", "address", "fa:16:3e:66:66:66"],
                   check=True)
    subprocess.run(["ip", "-n", b.ns, "neigh", "flush", "all"], check=True)
    assert not lab.connects(a, b, 80), "a spoofed MAC gets nothing through"


def test_allowed_address_pairs_and_disabled_port_security(lab: Lab, world: World) -> None:
    world.rules.append(rule(P1_DEFAULT, "ingress", "tcp", 80, 80, prefix="0.0.0.0/0"))
    a = lab.vm(1, [P1_DEFAULT], pairs=[{"ipAddress": "10.77.0.50"}])
    b = lab.vm(2, [P1_DEFAULT])
    open_vm = lab.vm(3, [], port_security=False)
    world.apply()
    lab.serve(b, 80)
    lab.serve(open_vm, 81)
    subprocess.run(["ip", "-n", a.ns, "addr", "add", "10.77.0.50/24", "dev", "eth0"],
                   check=True)
    assert lab.connects(a, b, 80, source="10.77.0.50"), "an allowed pair may be sent from"
    assert lab.connects(b, open_vm, 81), "a port without port security is not filtered"
    subprocess.run(["ip", "-n", open_vm.ns, "addr", "add", "10.77.0.60/24", "dev", "eth0"],
                   check=True)
    assert lab.connects(open_vm, b, 80, source="10.77.0.60"), "nor checked for spoofing"


def _nft(lab: Lab, *args: str) -> str:
    return subprocess.run(["ip", "netns", "exec", lab.host, "nft", *args], check=True,
                          capture_output=True, text=True).stdout


def test_hand_deleted_rules_are_found_and_rebuilt(lab: Lab, world: World) -> None:
    world.rules.append(rule(P1_DEFAULT, "ingress", "tcp", 80, 80, prefix="0.0.0.0/0"))
    a = lab.vm(1, [P1_DEFAULT])
    b = lab.vm(2, [P2_DEFAULT], project="p2")
    world.apply()
    assert world.fw.verify() == []
    lab.serve(a, 80, 81)
    assert not lab.connects(b, a, 81)
    _nft(lab, "flush", "chain", "inet", TABLE, f"i-tap{a.port_id[:11]}")
    assert lab.connects(b, a, 81), "the damage is real: the port is open"
    drift = world.fw.verify()
    assert drift == [f"chain inet i-tap{a.port_id[:11]} differs"]
    _nft(lab, "delete", "element", "inet", TABLE, f"r4-{P1_DEFAULT}", "{ 10.77.0.1 }")
    assert f"set r4-{P1_DEFAULT} differs" in world.fw.verify()
    world.fw.apply(desired.compute("h1", [vm.port for vm in lab.vms], world.rules,
                                   bridges={"n1": "kbr-77"}), full=True)
    assert world.fw.verify() == []
    assert not lab.connects(b, a, 81) and lab.connects(b, a, 80)


def test_one_transaction_per_change_and_sets_change_by_element(lab: Lab, world: World) -> None:
    a = lab.vm(1, [P1_DEFAULT])
    world.apply()
    b = lab.vm(2, [P1_DEFAULT])
    ports = [vm.port for vm in lab.vms]
    result = world.fw.apply(desired.compute("h1", ports, world.rules, bridges={"n1": "kbr-77"}))
    assert not result.full and result.changed_ports == [f"tap{b.port_id[:11]}"]
    assert result.changed_groups == []  # the group's chains stay; only its set grows
    assert world.fw.applied.sets[f"r4-{P1_DEFAULT}"][1] == {a.address, b.address}
    assert world.fw.verify() == []


def test_shallow_verify_finds_deleted_chains_entries_and_members(lab: Lab, world: World
                                                                 ) -> None:
    a = lab.vm(1, [P1_DEFAULT])
    world.apply()
    tap = f"tap{a.port_id[:11]}"
    assert world.fw.verify(deep=False) == []
    _nft(lab, "delete", "element", "bridge", TABLE, "pout", f'{{ "{tap}" }}')
    assert world.fw.verify(deep=False) == ["map bridge pout differs"]
    _nft(lab, "flush", "chain", "inet", TABLE, f"o-{tap}")
    assert world.fw.verify(deep=False) == ["map bridge pout differs"]  # rules: deep only
    assert f"chain inet o-{tap} differs" in world.fw.verify()


def test_member_with_a_prefix_makes_an_interval_set(lab: Lab, world: World) -> None:
    web, db = "sg-web", "sg-db"
    world.rules += [rule(db, "ingress", "tcp", 80, 80, remote=web), rule(web, "egress")]
    app = lab.vm(1, [web])
    server = lab.vm(2, [db])
    world.apply()
    assert "r4-sg-web" in world.fw.applied.sets
    app.port["spec"]["allowedAddressPairs"] = [{"ipAddress": "10.77.0.128/25"}]
    world.apply()
    assert world.fw.applied.sets["r4n-sg-web"][1] == {app.address, "10.77.0.128/25"}
    assert "r4-sg-web" not in world.fw.applied.sets and world.fw.verify() == []
    lab.serve(server, 80)
    subprocess.run(["ip", "-n", app.ns, "addr", "add", "10.77.0.130/24", "dev", "eth0"],
                   check=True)
    assert lab.connects(app, server, 80, source="10.77.0.130")


def test_bridged_packets_are_handed_to_the_ip_hooks(lab: Lab, world: World) -> None:
    knob = "net.bridge.bridge-nf-call-iptables"
    subprocess.run(["ip", "netns", "exec", lab.host, "sysctl", "-qw", f"{knob}=0"], check=True)
    a = lab.vm(1, [P1_DEFAULT])
    b = lab.vm(2, [P2_DEFAULT], project="p2")
    world.apply()  # the first (full) apply turns it back on: without it nothing is filtered
    got = subprocess.run(["ip", "netns", "exec", lab.host, "sysctl", "-n", knob],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert got == "1"
    lab.serve(a, 80)
    assert not lab.connects(b, a, 80)


def test_each_bridge_is_its_own_conntrack_zone(lab: Lab, world: World) -> None:
    a = lab.vm(1, [P1_DEFAULT])
    b = lab.vm(2, [P1_DEFAULT])
    world.apply()
    assert world.fw.applied.maps[("inet", "zones")] == {'"kbr-77"': "1"}
    lab.serve(a, 80)
    assert lab.connects(b, a, 80), "stateful filtering works inside the bridge's zone"
    out = _nft(lab, "list", "map", "inet", TABLE, "zones")
    assert '"kbr-77" : 1' in out
    assert world.fw.verify() == []


def test_removing_a_rule_ends_the_connections_it_admitted(lab: Lab, world: World) -> None:
    tcp = rule(P1_DEFAULT, "ingress", "tcp", 7000, 7000, prefix="10.77.0.0/24")
    world.rules.append(tcp)
    a = lab.vm(1, [P1_DEFAULT])
    b = lab.vm(2, [P2_DEFAULT], project="p2")
    world.apply()
    talker = long_connection(lab, a, b, 7000)
    world.rules.remove(tcp)
    t0 = time.monotonic()
    world.apply()
    assert talker.stdout is not None
    while (line := talker.stdout.readline().strip()) == "alive":
        assert time.monotonic() - t0 < 5, "the connection outlived its rule"
    assert line == "dead" and world.fw.connections_ended >= 1
