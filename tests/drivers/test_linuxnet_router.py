"""A router namespace against the kernel: SNAT through the gateway, DNAT + SNAT per
floating IP, hairpin, routing between subnets, and a floating IP's removal cutting an
established TCP stream at once and silencing ARP for its address.

Everything lives in namespaces this test creates (a "host" holding the bridges, the
router, three "guests" and an "outside" namespace standing for the external
network); addresses are 10.x tenant subnets and 198.18.0.0/15. The fixture deletes
every namespace it made, also on failure.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kumo.drivers.linuxnet import LinuxNet
from kumo.drivers.linuxnet_router import (
    FipNat,
    RouterConfig,
    RouterNet,
    counter_name,
    render_nat,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/sbin/nft").exists(),
                                reason="needs root and nft")
EXT_GW, ROUTER_EXT, FIP = "198.18.100.1", "198.18.100.10", "198.18.100.50"
A1, A2, B1 = "10.1.0.5", "10.1.0.6", "10.2.0.5"


def run(*argv: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          check=check)


@dataclass
class Lab:
    tok: str
    host: str
    router_id: str
    made: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def router_ns(self) -> str:
        return f"qrouter-{self.router_id}"

    def ns(self, suffix: str) -> str:
        name = f"kt{self.tok}-{suffix}"
        run("ip", "netns", "add", name)
        self.made.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def guest(self, suffix: str, bridge: str, cidr: str, gw: str) -> str:
        """A namespace with one veth on ``bridge`` in the host namespace."""
        ns = self.ns(suffix)
        h, g = f"v{self.tok}{suffix}"[:15], f"g{self.tok}{suffix}"[:15]
        run("ip", "-n", self.host, "link", "add", h, "type", "veth", "peer", "name", g)
        run("ip", "-n", self.host, "link", "set", g, "netns", ns)
        run("ip", "-n", self.host, "link", "set", h, "master", bridge, "up")
        run("ip", "-n", ns, "addr", "add", cidr, "dev", g)
        run("ip", "-n", ns, "link", "set", g, "up")
        run("ip", "-n", ns, "route", "add", "default", "via", gw)
        return ns

    def sh(self, ns: str, code: str, timeout: float = 20) -> str:
        return run("ip", "netns", "exec", ns, "python3", "-c", code, timeout=timeout).stdout

    def ask(self, ns: str, ip: str, port: int) -> str:
        """What the server at ip:port answers (the source address it saw); retried for
        10 s, since a loaded machine may start the servers slowly."""
        deadline = time.time() + 10
        while True:
            p = run("ip", "netns", "exec", ns, "python3", "-c", ASK.format(ip=ip, port=port),
                    check=False)
            if p.returncode == 0 or time.time() > deadline:
                assert p.returncode == 0, p.stderr[-300:] + self.dump()
                return p.stdout.strip()
            time.sleep(0.2)

    def dump(self) -> str:
        """The router's state, for a failure message."""
        out = []
        for argv in (["ip", "-n", self.router_ns, "-br", "addr"],
                     ["ip", "-n", self.router_ns, "route"],
                     ["ip", "netns", "exec", self.router_ns, "cat",
                      "/proc/sys/net/ipv4/ip_forward"],
                     ["ip", "-n", self.host, "-br", "link"],
                     ["ip", "netns", "exec", self.router_ns, "nft", "list", "ruleset"]):
            out.append(" ".join(argv[3:]) + "\n" + run(*argv, check=False).stdout)
        return "\n".join(out)

    def spawn(self, ns: str, code: str) -> subprocess.Popen[str]:
        p = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", code],
                             stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p


SERVE = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", {port})); s.listen()
while True:
    c, peer = s.accept()
    if {stream}:
        try:
            while True:
                c.sendall(b"x" * 512); time.sleep(0.01)
        except OSError:
            pass
    else:
        c.sendall(peer[0].encode()); c.close()
"""
ASK = """
import socket
s = socket.create_connection(("{ip}", {port}), timeout=3)
print(s.recv(64).decode())
"""


@contextmanager
def open_lab() -> Iterator[Lab]:
    """A fresh lab; every namespace made in it is deleted, also on failure."""
    lab = Lab(secrets.token_hex(3), "", str(uuid.uuid4()))
    try:
        lab.host = lab.ns("host")
        yield lab
    finally:
        for p in lab.procs:
            p.kill()
            p.wait()
        for ns in [lab.router_ns, *reversed(lab.made)]:
            run("ip", "netns", "del", ns, check=False)


@pytest.fixture
def lab() -> Iterator[Lab]:
    with open_lab() as made:
        yield made


def _build(lab: Lab) -> tuple[RouterNet, RouterConfig]:
    net = LinuxNet(netns=lab.host)
    try:
        for br in ("kbr-901", "kbr-902", "kbr-903"):
            net.ensure_bridge(br, 1450)
        legs = [("kbr-901", "qr-aaaaaaaaaaa", "10.1.0.1/24"),
                ("kbr-902", "qr-bbbbbbbbbbb", "10.2.0.1/24"),
                ("kbr-903", "qg-ccccccccccc", f"{ROUTER_EXT}/24")]
        for i, (br, ns_if, cidr) in enumerate(legs):
            net.ensure_veth_netns(f"tap{lab.tok}{i}", ns_if, lab.router_ns, br, 1450,
                                  f"fa:16:3e:00:01:0{i}", [cidr])
    finally:
        net.close()
    lab.guest("a1", "kbr-901", f"{A1}/24", "10.1.0.1")
    lab.guest("a2", "kbr-901", f"{A2}/24", "10.1.0.1")
    lab.guest("b1", "kbr-902", f"{B1}/24", "10.2.0.1")
    outside = lab.ns("out")  # the external network's far side: no route to the tenants
    h, g = f"v{lab.tok}out", f"g{lab.tok}out"
    run("ip", "-n", lab.host, "link", "add", h, "type", "veth", "peer", "name", g)
    run("ip", "-n", lab.host, "link", "set", g, "netns", outside)
    run("ip", "-n", lab.host, "link", "set", h, "master", "kbr-903", "up")
    run("ip", "-n", outside, "addr", "add", f"{EXT_GW}/24", "dev", g)
    run("ip", "-n", outside, "link", "set", g, "up")
    cfg = RouterConfig(netns=lab.router_ns, gateway_if="qg-ccccccccccc", gateway_ip=ROUTER_EXT,
                       gateway_nexthop=EXT_GW, snat=True,
                       internal_cidrs=("10.1.0.0/24", "10.2.0.0/24"),
                       fips=(FipNat("f1f1f1f1-0000-4000-8000-000000000001", FIP, A1),))
    return RouterNet(), cfg


def test_render_is_one_atomic_table() -> None:
    cfg = RouterConfig(netns="qrouter-x", gateway_if="qg-ccccccccccc", gateway_ip=ROUTER_EXT,
                       internal_cidrs=("10.1.0.0/24",),
                       fips=(FipNat("f1f1f1f1-0000", FIP, A1),))
    text = render_nat(cfg)
    assert text.startswith("table ip kumo_router {}\ndelete table ip kumo_router\n")
    assert f"dnat to {A1}" in text and f"snat to {FIP}" in text
    assert f"snat to {ROUTER_EXT}" in text
    assert text.index(f"snat to {FIP}") < text.index(f"snat to {ROUTER_EXT}")
    with pytest.raises(ValueError):
        render_nat(RouterConfig(netns="qrouter-x", internal_cidrs=("10.1.0.0/33",)))


def test_router_namespace_forwards_and_nats(lab: Lab) -> None:  # noqa: PLR0915
    driver, cfg = _build(lab)
    assert driver.ensure(cfg) > 0
    assert driver.ensure(cfg) == 0  # converged: no batch, no change
    a1, a2, b1, out = (f"kt{lab.tok}-{s}" for s in ("a1", "a2", "b1", "out"))
    for ns, port in ((out, 7000), (a1, 7001), (b1, 7002)):
        lab.spawn(ns, SERVE.format(port=port, stream=False))
    time.sleep(0.5)
    # east-west between subnets, routed without NAT
    assert lab.ask(a1, B1, 7002) == A1
    # out through SNAT: the outside sees the router's gateway address (a2 has no FIP)
    assert lab.ask(a2, EXT_GW, 7000) == ROUTER_EXT
    # a1 has the floating IP: its own outbound traffic leaves as the FIP
    assert lab.ask(a1, EXT_GW, 7000) == FIP
    # in through DNAT: the outside reaches a1 by its floating IP, seen as itself
    assert lab.ask(out, FIP, 7001) == EXT_GW
    # hairpin: a2 behind the same router reaches a1's floating IP
    assert lab.ask(a2, FIP, 7001) == "10.1.0.1"
    counters = driver.counters(lab.router_ns)
    fid = cfg.fips[0].fip_id
    assert counters[counter_name("dnat", fid)] >= 2
    assert counters[counter_name("snat", fid)] >= 1

    # gratuitous ARP: a neighbour holding a stale MAC for the FIP learns the router's
    gdev = f"g{lab.tok}out"
    run("ip", "-n", out, "neigh", "replace", FIP, "lladdr", "02:00:00:00:00:99", "dev", gdev,
        "nud", "stale")
    RouterNet().ensure(cfg)  # a restarted agent announces every address again
    neigh = run("ip", "-n", out, "neigh", "show", FIP).stdout
    assert "fa:16:3e:00:01:02" in neigh, neigh

    # hand-made damage is repaired: the table and the FIP address come back
    run("ip", "netns", "exec", lab.router_ns, "nft", "delete", "table", "ip", "kumo_router")
    run("ip", "-n", lab.router_ns, "addr", "del", f"{FIP}/32", "dev", "lo")
    assert driver.ensure(cfg) >= 2
    assert lab.ask(out, FIP, 7001) == EXT_GW

    # a running stream from a1 to the outside through the FIP ...
    lab.spawn(a1, SERVE.format(port=7003, stream=True))
    time.sleep(0.3)
    reader = lab.spawn(out, """
import socket, time, sys
s = socket.create_connection(("FIP", 7003), timeout=5); s.settimeout(0.2)
deadline = time.time() + 6
while time.time() < deadline:
    try:
        if s.recv(4096): print(time.time(), flush=True)
    except socket.timeout:
        pass
    except OSError:
        break
""".replace("FIP", FIP))
    time.sleep(1.0)
    assert driver.conntrack_entries(lab.router_ns) >= 1
    # ... stops at once when the FIP goes
    cut = time.time()
    driver.ensure(RouterConfig(**{**cfg.__dict__, "fips": ()}))
    out_text, _ = reader.communicate(timeout=15)
    stamps = [float(x) for x in out_text.split()]
    assert stamps and stamps[0] < cut, "the stream never ran"
    assert stamps[-1] - cut < 2.0, f"data kept flowing {stamps[-1] - cut:.2f} s after the cut"
    assert driver.flushed >= 1
    # and the address answers no ARP any more
    run("ip", "-n", out, "neigh", "flush", "all")
    ping = run("ip", "netns", "exec", out, "ping", "-c", "1", "-W", "1", FIP, check=False)
    assert ping.returncode != 0
    neigh = run("ip", "-n", out, "neigh", "show", FIP).stdout
    assert "lladdr" not in neigh, neigh
    # without the FIP, a1's traffic goes out by SNAT to the gateway address
    assert lab.ask(a1, EXT_GW, 7000) == ROUTER_EXT

    assert driver.delete(lab.router_ns) is True
    assert lab.router_ns not in driver.namespaces()


def test_only_its_own_namespaces_are_listed(tmp_path: Path) -> None:
    """Names are machine-wide: an agent that did not make a router namespace (another
    cloud on this kernel, another host of a test cloud) never lists it, so its collection
    never deletes it; the agent that made it still lists it after a restart."""
    from kumo.drivers import netns as nsmod

    cfg = RouterConfig(netns=f"qrouter-{uuid.uuid4()}")
    ours = RouterNet(tmp_path / "ours")
    try:
        ours.ensure(cfg)
        assert nsmod.exists(cfg.netns)
        assert cfg.netns in ours.namespaces()
        assert cfg.netns in RouterNet(tmp_path / "ours").namespaces()  # restarted
        assert cfg.netns not in RouterNet(tmp_path / "theirs").namespaces()
    finally:
        assert ours.delete(cfg.netns) is True
    assert not nsmod.exists(cfg.netns)
    assert cfg.netns not in RouterNet(tmp_path / "ours").namespaces()


def test_a_namespace_made_again_gets_its_nat_table_at_once(tmp_path: Path) -> None:
    """Deleted under the driver (by hand, or by another agent) and made again by the
    overlay sync: the next change-driven sync (no verify) loads the NAT table again
    rather than trusting what it applied to the namespace that is gone."""
    from kumo.drivers import netns as nsmod

    cfg = RouterConfig(netns=f"qrouter-{uuid.uuid4()}")
    driver = RouterNet(tmp_path)
    try:
        driver.ensure(cfg)
        assert driver._table_present(cfg.netns)
        nsmod.delete(cfg.netns)
        nsmod.create(cfg.netns)  # what the overlay sync does for the legs
        assert not driver._table_present(cfg.netns)
        assert driver.ensure(cfg, verify=False) >= 1
        assert driver._table_present(cfg.netns)
    finally:
        driver.delete(cfg.netns)
    assert not nsmod.exists(cfg.netns)
