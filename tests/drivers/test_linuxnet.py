"""The network driver: LinuxNet against the kernel (inside throw-away namespaces) and
FakeNet in memory, held to the same conformance subset.

Safety: every LinuxNet here is bound to a namespace the test created
(`LinuxNet(netns=...)` setns()-es only its worker thread); packets flow only
between test namespaces; underlay addresses come from 198.18.0.0/15. The fixture
removes every namespace carrying the test's token, even when the test fails, and
checks nothing with that token leaked into the root namespace.
"""

from __future__ import annotations

import os
import random
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from kumo.drivers.fakenet import FakeNet
from kumo.drivers.linuxnet import (
    FLOOD_MAC,
    NETNS_DIR,
    LinuxNet,
    NetDriverError,
    _setns_fd,
)

MTU = 1450
VNI = 100
LOCAL = "198.18.0.1"
REMOTE_A, REMOTE_B = "198.18.0.2", "198.18.0.3"
MAC_A, MAC_B = "fa:16:3e:00:00:0a", "fa:16:3e:00:00:0b"


def linux_ok() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    return None


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=20, check=check)


# --- namespaces owned by one test ---------------------------------------------------------


@dataclass
class Scratch:
    tok: str
    made: list[str] = field(default_factory=list)

    def ns(self, suffix: str) -> str:
        """Create kt<tok>-<suffix> (lo up) and remember it for cleanup."""
        name = f"kt{self.tok}-{suffix}"
        run("ip", "netns", "add", name)
        self.made.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def name(self, prefix: str, suffix: str = "") -> str:
        """A device name with the token in it: prefix + kt<tok> + suffix (<= 15)."""
        n = f"{prefix}kt{self.tok}{suffix}"
        assert len(n) <= 15, n
        return n

    @property
    def qdhcp(self) -> str:
        return f"qdhcp-kt{self.tok}"

    def cleanup(self) -> None:
        for ns in sorted(os.listdir(NETNS_DIR)) if NETNS_DIR.exists() else []:
            if f"kt{self.tok}" in ns:
                run("ip", "netns", "delete", ns, check=False)


@pytest.fixture
def scratch() -> Iterator[Scratch]:
    s = Scratch(uuid.uuid4().hex[:6])
    try:
        yield s
    finally:
        s.cleanup()
        root = run("ip", "-o", "link", "show").stdout
        assert f"kt{s.tok}" not in root, "a test device leaked into the root namespace"
        assert not [n for n in os.listdir(NETNS_DIR) if f"kt{s.tok}" in n]


# --- the two drivers behind one face --------------------------------------------------------


@dataclass
class Subject:
    kind: str
    net: LinuxNet | FakeNet
    host_ns: str | None
    set_nomaster: Callable[[str], None]
    set_down: Callable[[str], None]
    fdb_del: Callable[[str, str, str], None]
    ns_addresses: Callable[[str, str], set[str]]


def make_subject(kind: str, s: Scratch) -> Subject:
    if kind == "fake":
        fake = FakeNet()

        def f_nomaster(name: str) -> None:
            fake.devices[name].master = None

        def f_down(name: str) -> None:
            fake.devices[name].up = False

        def f_fdb_del(vx: str, mac: str, dst: str) -> None:
            fake.fdbs[vx].discard((mac, dst))

        def f_addrs(ns: str, ifname: str) -> set[str]:
            return set(fake.namespaces[ns][ifname].addresses)

        return Subject(kind, fake, None, f_nomaster, f_down, f_fdb_del, f_addrs)

    host = s.ns("host")
    net = LinuxNet(netns=host)

    def l_nomaster(name: str) -> None:
        run("ip", "-n", host, "link", "set", name, "nomaster")

    def l_down(name: str) -> None:
        run("ip", "-n", host, "link", "set", name, "down")

    def l_fdb_del(vx: str, mac: str, dst: str) -> None:
        run("bridge", "-n", host, "fdb", "del", mac, "dev", vx, "dst", dst)

    def l_addrs(ns: str, ifname: str) -> set[str]:
        out = run("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", ifname).stdout
        return {line.split()[3] for line in out.splitlines()}

    return Subject(kind, net, host, l_nomaster, l_down, l_fdb_del, l_addrs)


@pytest.fixture(params=["fake", "linux"])
def subject(request, scratch: Scratch) -> Iterator[Subject]:
    if request.param == "linux" and (why := linux_ok()):
        pytest.skip(why)
    sub = make_subject(request.param, scratch)
    try:
        yield sub
    finally:
        sub.net.close()


@pytest.fixture
def linux(scratch: Scratch) -> Iterator[Subject]:
    if why := linux_ok():
        pytest.skip(why)
    sub = make_subject("linux", scratch)
    try:
        yield sub
    finally:
        sub.net.close()


def build(sub: Subject, s: Scratch) -> tuple[str, str, str]:
    br, vx, tap = s.name("brq"), f"vxlan-{VNI}", s.name("tap", "a")
    assert sub.net.ensure_bridge(br, MTU) is True
    assert sub.net.ensure_vxlan(vx, VNI, LOCAL, br, MTU) is True
    assert sub.net.ensure_tap(tap, br, MTU) is True
    return br, vx, tap


# --- conformance: both drivers ---------------------------------------------------------------


def test_create_is_idempotent(subject: Subject, scratch: Scratch):
    net = subject.net
    br, vx, tap = build(subject, scratch)
    assert net.ensure_bridge(br, MTU) is False
    assert net.ensure_vxlan(vx, VNI, LOCAL, br, MTU) is False
    assert net.ensure_tap(tap, br, MTU) is False
    links = net.links()
    assert {br, vx, tap} <= set(links)
    assert (links[br].kind, links[br].master, links[br].up, links[br].mtu) == ("bridge", None,
                                                                               True, MTU)
    assert (links[vx].kind, links[vx].master, links[vx].mtu) == ("vxlan", br, MTU)
    assert (links[tap].kind, links[tap].master, links[tap].up, links[tap].mtu) == ("tap", br,
                                                                                   True, MTU)
    assert set(net.links(("vxlan-",))) == {vx}


def test_drift_is_repaired(subject: Subject, scratch: Scratch):
    net = subject.net
    br, vx, tap = build(subject, scratch)
    subject.set_nomaster(tap)
    assert net.links()[tap].master is None
    assert net.ensure_tap(tap, br, MTU) is True
    assert net.links()[tap].master == br
    subject.set_down(vx)
    assert net.ensure_vxlan(vx, VNI, LOCAL, br, MTU) is True
    assert net.links()[vx].up
    assert net.ensure_tap(tap, br, 1400) is True  # MTU drift
    assert net.links()[tap].mtu == 1400
    assert net.ensure_tap(tap, br, MTU) is True


def test_vxlan_recreated_when_vni_or_local_differ(subject: Subject, scratch: Scratch):
    net = subject.net
    br, vx, _ = build(subject, scratch)
    net.sync_fdb(vx, {(FLOOD_MAC, REMOTE_A)})
    assert net.ensure_vxlan(vx, VNI, "198.18.0.9", br, MTU) is True
    assert net.fdb(vx) == set()  # a new device: the caller resyncs l2pop
    assert net.ensure_vxlan(vx, VNI + 1, "198.18.0.9", br, MTU) is True
    assert net.ensure_vxlan(vx, VNI + 1, "198.18.0.9", br, MTU) is False
    assert net.links()[vx].master == br


def test_sync_fdb_counts_and_drift(subject: Subject, scratch: Scratch):
    net = subject.net
    _, vx, _ = build(subject, scratch)
    assert net.fdb(vx) == set()
    want = {(FLOOD_MAC, REMOTE_A), (FLOOD_MAC, REMOTE_B), (MAC_A, REMOTE_A), (MAC_B, REMOTE_B)}
    assert net.sync_fdb(vx, want) == (4, 0)
    assert net.fdb(vx) == want
    assert net.sync_fdb(vx, want) == (0, 0)
    subject.fdb_del(vx, FLOOD_MAC, REMOTE_B)
    subject.fdb_del(vx, MAC_A, REMOTE_A)
    assert net.fdb(vx) == want - {(FLOOD_MAC, REMOTE_B), (MAC_A, REMOTE_A)}
    assert net.sync_fdb(vx, want) == (2, 0)
    assert net.fdb(vx) == want
    # host B leaves, MAC_A moves to host B's address... and back, upper-case input
    want2 = {(FLOOD_MAC, REMOTE_A), (MAC_A, REMOTE_B)}
    assert net.sync_fdb(vx, want2) == (1, 3)
    assert net.fdb(vx) == want2
    assert net.sync_fdb(vx, {(MAC_A.upper(), REMOTE_B)}) == (0, 1)
    assert net.sync_fdb(vx, set()) == (0, 1)
    assert net.fdb(vx) == set()


def test_neighbours_sync(subject: Subject, scratch: Scratch):
    net = subject.net
    _, vx, _ = build(subject, scratch)
    want = {("10.0.0.2", MAC_A), ("10.0.0.3", MAC_B)}
    assert net.neighbours(vx) == set()
    assert net.sync_neighbours(vx, want) == (2, 0)
    assert net.neighbours(vx) == want
    assert net.sync_neighbours(vx, want) == (0, 0)
    moved = {("10.0.0.2", MAC_B)}
    assert net.sync_neighbours(vx, moved) == (1, 2)
    assert net.neighbours(vx) == moved
    assert net.sync_neighbours(vx, set()) == (0, 1)
    with pytest.raises(NetDriverError):
        net.sync_neighbours(vx, {("10.0.0.2", MAC_A), ("10.0.0.2", MAC_B)})


def test_veth_into_dhcp_namespace(subject: Subject, scratch: Scratch):
    net = subject.net
    br, _, _ = build(subject, scratch)
    host_if, ns_if, ns = scratch.name("tap", "d"), scratch.name("ns-"), scratch.qdhcp
    mac = "fa:16:3e:00:00:d1"
    assert net.ensure_veth_netns(host_if, ns_if, ns, br, MTU, mac, ["10.0.0.2/24"]) is True
    assert ns in net.netns_list()
    assert net.ensure_veth_netns(host_if, ns_if, ns, br, MTU, mac, ["10.0.0.2/24"]) is False
    host = net.links()[host_if]
    assert (host.kind, host.master, host.up, host.mtu) == ("veth", br, True, MTU)
    assert ns_if not in net.links(())  # it lives in the namespace, not here
    assert subject.ns_addresses(ns, ns_if) == {"10.0.0.2/24"}
    # addresses change: the extra one goes, the new ones come
    assert net.ensure_veth_netns(host_if, ns_if, ns, br, MTU, mac,
                                 ["10.0.0.3/24", "10.1.0.3/16"]) is True
    assert subject.ns_addresses(ns, ns_if) == {"10.0.0.3/24", "10.1.0.3/16"}
    subject.set_nomaster(host_if)
    assert net.ensure_veth_netns(host_if, ns_if, ns, br, MTU, mac,
                                 ["10.0.0.3/24", "10.1.0.3/16"]) is True
    assert net.links()[host_if].master == br


def test_delete_is_idempotent(subject: Subject, scratch: Scratch):
    net = subject.net
    br, vx, tap = build(subject, scratch)
    host_if, ns = scratch.name("tap", "d"), scratch.qdhcp
    net.ensure_veth_netns(host_if, scratch.name("ns-"), ns, br, MTU, MAC_A, [])
    assert net.delete_link(tap) is True
    assert net.delete_link(tap) is False
    assert net.delete_link(vx) is True
    assert net.delete_link(vx) is False
    assert set(net.links()) == {br, host_if}
    assert net.delete_netns(ns) is True
    assert net.delete_netns(ns) is False
    assert ns not in net.netns_list()
    wait_for(lambda: host_if not in net.links(), "the veth to go with its namespace")
    assert net.delete_link(br) is True
    assert net.links() == {}


def test_bad_input_is_refused(subject: Subject, scratch: Scratch):
    net = subject.net
    br, vx, _ = build(subject, scratch)
    bad = [
        lambda: net.ensure_bridge("brq-much-too-long-name", MTU),
        lambda: net.ensure_bridge("br q", MTU),
        lambda: net.ensure_bridge("br;rm", MTU),
        lambda: net.ensure_bridge(br, 10),
        lambda: net.ensure_vxlan(vx, 0, LOCAL, br, MTU),
        lambda: net.ensure_vxlan(vx, VNI, "not-an-ip", br, MTU),
        lambda: net.ensure_vxlan("vxlan-9", 9, LOCAL, "brqmissing", MTU),
        lambda: net.ensure_tap(scratch.name("tap", "z"), "brqmissing", MTU),
        lambda: net.ensure_tap(br, br, MTU),  # exists, but is a bridge
        lambda: net.ensure_veth_netns("tapx", "nsx", "../etc", br, MTU, MAC_A, []),
        lambda: net.ensure_veth_netns("tapx", "nsx", "qdhcp-x", br, MTU, "zz", []),
        lambda: net.ensure_veth_netns("tapx", "nsx", "qdhcp-x", br, MTU, MAC_A, ["10.0.0.1"]),
        lambda: net.sync_fdb(vx, {("nope", REMOTE_A)}),
        lambda: net.sync_fdb(br, set()),  # not a vxlan
        lambda: net.fdb("vxlan-404"),
        lambda: net.neighbours("vxlan-404"),
        lambda: net.delete_netns("a/b"),
    ]
    for i, call in enumerate(bad):
        with pytest.raises(NetDriverError):
            call()
            pytest.fail(f"bad call #{i} was accepted")
    assert net.netns_list() == [] if subject.kind == "fake" else "qdhcp-x" not in net.netns_list()


# --- LinuxNet only ------------------------------------------------------------------------------


def test_kernel_details(linux: Subject, scratch: Scratch):
    net, host = linux.net, linux.host_ns
    assert host is not None
    br, vx, tap = build(linux, scratch)
    d = run("ip", "-n", host, "-d", "link", "show", vx).stdout
    for want in (f"vxlan id {VNI}", f"local {LOCAL}", "dstport 4789", "nolearning", "proxy",
                 f"mtu {MTU}", f"master {br}"):
        assert want in d, (want, d)
    d = run("ip", "-n", host, "-d", "link", "show", tap).stdout
    assert "tun type tap" in d and "persist on" in d and "pi off" in d, d
    d = run("ip", "-n", host, "-d", "link", "show", br).stdout
    assert "stp_state 0" in d, d
    v6 = run("ip", "netns", "exec", host, "cat", f"/proc/sys/net/ipv6/conf/{br}/disable_ipv6",
             check=False)
    assert v6.returncode != 0 or v6.stdout.strip() == "1"
    assert run("ip", "-n", host, "addr", "show", "dev", br).stdout.count("inet ") == 0
    # permanent FDB entries with self, as l2pop wants
    net.sync_fdb(vx, {(FLOOD_MAC, REMOTE_A), (FLOOD_MAC, REMOTE_B), (MAC_A, REMOTE_A)})
    out = run("bridge", "-n", host, "fdb", "show", "dev", vx).stdout
    assert f"{MAC_A} dst {REMOTE_A} self permanent" in out, out
    assert f"{FLOOD_MAC} dst {REMOTE_B} self permanent" in out, out
    # the bridge's own entry on the vxlan port (no dst) is left alone
    assert "master" in out
    net.sync_fdb(vx, set())
    assert "master" in run("bridge", "-n", host, "fdb", "show", "dev", vx).stdout
    net.sync_neighbours(vx, {("10.0.0.2", MAC_A)})
    out = run("ip", "-n", host, "neigh", "show", "dev", vx).stdout
    assert f"10.0.0.2 lladdr {MAC_A} PERMANENT" in out, out
    # a non-bridge squatting on a bridge name is an error, not silently replaced
    with pytest.raises(NetDriverError, match="not a bridge"):
        net.ensure_bridge(tap, MTU)


def test_missing_namespace_is_an_error(scratch: Scratch):
    if why := linux_ok():
        pytest.skip(why)
    net = LinuxNet(netns=f"kt{scratch.tok}-nope")
    try:
        with pytest.raises(NetDriverError, match="does not exist"):
            net.links()
    finally:
        net.close()
    with pytest.raises(NetDriverError, match="closed"):
        net.links()


def test_sync_fdb_1000_entries_timing(linux: Subject, scratch: Scratch):
    net = linux.net
    _, vx, _ = build(linux, scratch)
    want = {(f"fa:16:3e:00:{i >> 8:02x}:{i & 0xFF:02x}", f"198.18.{1 + i % 50}.1")
            for i in range(950)}
    want |= {(FLOOD_MAC, f"198.18.{1 + i}.1") for i in range(50)}
    assert len(want) == 1000
    t0 = time.monotonic()
    assert net.sync_fdb(vx, want) == (1000, 0)
    t_add = time.monotonic() - t0
    t0 = time.monotonic()
    assert net.sync_fdb(vx, want) == (0, 0)
    t_noop = time.monotonic() - t0
    t0 = time.monotonic()
    assert net.sync_fdb(vx, set()) == (0, 1000)
    t_del = time.monotonic() - t0
    print(f"\nsync_fdb 1000: add {t_add:.3f}s, no-op {t_noop:.3f}s, remove {t_del:.3f}s")
    assert t_add < 10 and t_noop < 5 and t_del < 10


def test_concurrent_callers_share_one_worker(linux: Subject, scratch: Scratch):
    net = linux.net
    br, vx, _ = build(linux, scratch)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            net.ensure_tap(scratch.name("tap", str(i)), br, MTU)
            net.links()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert {scratch.name("tap", str(i)) for i in range(8)} <= set(net.links())


# --- real traffic across a VXLAN overlay between two namespaces ----------------------------------


def test_overlay_traffic(scratch: Scratch):
    if why := linux_ok():
        pytest.skip(why)
    h1, h2 = scratch.ns("h1"), scratch.ns("h2")
    vm1, vm2 = scratch.ns("vm1"), scratch.ns("vm2")
    ip1, ip2 = "198.18.0.1", "198.18.0.2"
    mac1, mac2 = "fa:16:3e:00:01:01", "fa:16:3e:00:02:02"
    # the underlay: one veth between the two "hosts"
    run("ip", "-n", h1, "link", "add", "u1", "type", "veth", "peer", "name", "u2", "netns", h2)
    for ns, dev, ip in ((h1, "u1", ip1), (h2, "u2", ip2)):
        run("ip", "-n", ns, "addr", "add", f"{ip}/15", "dev", dev)
        run("ip", "-n", ns, "link", "set", dev, "up")
    br, vx = scratch.name("brq"), f"vxlan-{VNI}"
    nets = {h1: LinuxNet(netns=h1), h2: LinuxNet(netns=h2)}
    try:
        plan = {
            h1: (ip1, vm1, "10.0.0.1/24", mac1, ip2, "10.0.0.2", mac2),
            h2: (ip2, vm2, "10.0.0.2/24", mac2, ip1, "10.0.0.1", mac1),
        }
        for host, (local, vm, cidr, mac, _, _, _) in plan.items():
            net = nets[host]
            net.ensure_bridge(br, MTU)
            net.ensure_vxlan(vx, VNI, local, br, MTU)
            net.ensure_veth_netns(scratch.name("tap", "v"), scratch.name("ns-"), vm, br, MTU,
                                  mac, [cidr])

        def l2pop(host: str) -> tuple[int, int]:
            _, _, _, _, remote, rip, rmac = plan[host]
            a = nets[host].sync_fdb(vx, {(FLOOD_MAC, remote), (rmac, remote)})
            b = nets[host].sync_neighbours(vx, {(rip, rmac)})
            return a[0] + b[0], a[1] + b[1]

        assert l2pop(h1) == (3, 0)
        assert l2pop(h2) == (3, 0)
        assert ping(vm1, "10.0.0.2"), "no echo reply across the overlay"
        # lose h1's l2pop entries for h2: traffic stops
        run("bridge", "-n", h1, "fdb", "del", mac2, "dev", vx, "dst", ip2)
        run("bridge", "-n", h1, "fdb", "del", FLOOD_MAC, "dev", vx, "dst", ip2)
        assert not ping(vm1, "10.0.0.2", timeout=1.5), "ping worked without FDB entries"
        assert l2pop(h1) == (2, 0)
        assert ping(vm1, "10.0.0.2"), "resync did not restore the overlay"
        assert ping(vm2, "10.0.0.1")
    finally:
        for net in nets.values():
            net.close()


# --- helpers ---------------------------------------------------------------------------------------


def wait_for(pred: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def ping(ns: str, dst: str, timeout: float = 2.0) -> bool:
    """One ICMP echo from inside namespace `ns` (a raw socket made in a thread that
    setns()-es there; this image has no ping binary). True on a matching reply."""
    result: dict[str, object] = {}

    def work() -> None:
        try:
            fd = os.open(NETNS_DIR / ns, os.O_RDONLY)
            try:
                _setns_fd(fd)
            finally:
                os.close(fd)
            ident = random.randrange(1, 0xFFFF)
            body = b"kumo-linuxnet"
            head = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
            pkt = struct.pack("!BBHHH", 8, 0, _checksum(head + body), ident, 1) + body
            with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
                s.sendto(pkt, (dst, 0))
                deadline = time.monotonic() + timeout
                while (left := deadline - time.monotonic()) > 0:
                    s.settimeout(left)
                    try:
                        data, addr = s.recvfrom(2048)
                    except TimeoutError:
                        break
                    icmp = data[(data[0] & 0x0F) * 4:]
                    typ, _, _, rid, _ = struct.unpack("!BBHHH", icmp[:8])
                    if addr[0] == dst and typ == 0 and rid == ident:
                        result["ok"] = True
                        return
            result["ok"] = False
        except BaseException as e:  # handed to the caller
            result["error"] = e

    t = threading.Thread(target=work, name=f"ping-{ns}")
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return bool(result["ok"])


def test_fakenet_counts_calls_and_scales():
    hosts = [FakeNet() for _ in range(50)]
    want = {(f"fa:16:3e:00:{i >> 8:02x}:{i & 0xFF:02x}", f"198.18.{i % 50}.1") for i in range(1000)}
    t0 = time.monotonic()
    for net in hosts:
        net.ensure_bridge("brqabc", MTU)
        net.ensure_vxlan(f"vxlan-{VNI}", VNI, LOCAL, "brqabc", MTU)
        assert net.sync_fdb(f"vxlan-{VNI}", want) == (1000, 0)
    assert time.monotonic() - t0 < 5
    assert hosts[0].calls == {"ensure_bridge": 1, "ensure_vxlan": 1, "sync_fdb": 1}
