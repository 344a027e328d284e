"""dnsmasq driver and netns helpers: real dnsmasq, real busybox udhcpc, in throwaway namespaces.

Every packet stays inside namespaces created (and deleted, even on failure) here:
a server namespace holding the "DHCP port" (10.90.0.2/24) and a client namespace on
the other end of a veth pair. Nothing touches the machine's own interfaces.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kumo.drivers import netns
from kumo.drivers.dnsmasq import (
    DhcpHost,
    DhcpSubnet,
    Dnsmasq,
    InvalidDhcpConfig,
    render_hosts,
    render_opts,
)
from kumo.drivers.qemu_proc import alive


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for tool in ("ip", "dnsmasq", "timeout"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    if not os.path.exists("/bin/busybox"):
        return "busybox not installed"
    return None


needs_netns = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")

SERVER_IF, CLIENT_IF = "ns-dhcptest", "eth0"
SERVER_IP = "10.90.0.2"
MAC_A, MAC_B, MAC_C = "02:6b:74:00:00:0a", "02:6b:74:00:00:0b", "02:6b:74:00:00:0c"

SCRIPT = """#!/bin/sh
[ "$1" = bound ] || exit 0
{
  echo "ip=$ip"
  echo "mask=$mask"
  echo "subnet=$subnet"
  echo "router=$router"
  echo "mtu=$mtu"
  echo "dns=$dns"
  echo "hostname=$hostname"
  echo "staticroutes=$staticroutes"
} > "$KT_LEASE_OUT"
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Pair:
    server: str
    client: str
    tmp: Path
    runs: int = 0

    def set_client_mac(self, mac: str) -> None:
        _ip("-n", self.client, "link", "set", CLIENT_IF, "address", mac)

    async def udhcpc(self, tries: int = 5) -> dict[str, str] | None:
        """One DHCP exchange from the client namespace; the bound env, or None."""
        self.runs += 1
        script = self.tmp / "udhcpc.sh"
        if not script.exists():
            script.write_text(SCRIPT)
            script.chmod(0o755)
        out = self.tmp / f"lease-{self.runs}.env"
        proc = await asyncio.create_subprocess_exec(
            "timeout", "30", "ip", "netns", "exec", self.client,
            "/bin/busybox", "udhcpc", "-i", CLIENT_IF, "-n", "-q", "-t", str(tries), "-T", "1",
            "-O", "mtu", "-O", "staticroutes", "-s", str(script),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, env={**os.environ, "KT_LEASE_OUT": str(out)})
        await proc.wait()
        if not out.exists():
            return None
        return dict(line.split("=", 1) for line in out.read_text().splitlines())


def _teardown(*names: str) -> None:
    errors = []
    for name in names:
        try:
            netns.delete(name)
        except Exception as e:  # keep deleting the others
            errors.append(e)
    if errors:
        raise errors[0]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    tag = secrets.token_hex(3)
    p = Pair(f"kt-dhcp-{tag}", f"kt-cli-{tag}", tmp_path)
    try:
        netns.create(p.server)
        netns.create(p.client)
        # created inside the server namespace, peer moved straight into the client one
        _ip("-n", p.server, "link", "add", SERVER_IF, "type", "veth",
            "peer", "name", CLIENT_IF, "netns", p.client)
        _ip("-n", p.server, "addr", "add", f"{SERVER_IP}/24", "dev", SERVER_IF)
        _ip("-n", p.server, "link", "set", SERVER_IF, "up")
        _ip("-n", p.client, "link", "set", CLIENT_IF, "address", MAC_A)
        _ip("-n", p.client, "link", "set", CLIENT_IF, "up")
        yield p
    finally:
        _teardown(p.client, p.server)  # kills dnsmasq/udhcpc left inside, too


def _subnet(**kw) -> DhcpSubnet:
    base = dict(subnet_id="8d1b0c4e-0000-4000-8000-000000000001", cidr="10.90.0.0/24",
                gateway="10.90.0.1", dns=("10.90.0.53",),
                host_routes=(("10.99.0.0/16", "10.90.0.254"),), mtu=1450)
    base.update(kw)
    return DhcpSubnet(**base)


def _running_in(name: str) -> list[int]:
    return [p for p in netns.pids(name) if alive(p)]


# -- rendering and validation (no root needed) ----------------------------------------


def test_opts_routes_and_router() -> None:
    opts = render_opts([_subnet()], SERVER_IP)
    t = "tag:subnet-8d1b0c4e-0000-4000-8000-000000000001"
    routes = "169.254.169.254/32,10.90.0.2,10.99.0.0/16,10.90.0.254,0.0.0.0/0,10.90.0.1"
    assert opts.splitlines() == [
        f"{t},option:mtu,1450",
        f"{t},option:router,10.90.0.1",
        f"{t},option:dns-server,10.90.0.53",
        f"{t},option:classless-static-route,{routes}",
        f"{t},249,{routes}",
    ]


def test_opts_without_gateway_sends_empty_router_and_no_default_route() -> None:
    opts = render_opts([_subnet(gateway=None, dns=(), host_routes=())], SERVER_IP)
    t = "tag:subnet-8d1b0c4e-0000-4000-8000-000000000001"
    assert f"{t},option:router\n" in opts
    assert "dns-server" not in opts
    assert f"{t},option:classless-static-route,169.254.169.254/32,10.90.0.2\n" in opts
    assert "0.0.0.0/0" not in opts


def test_metadata_route_via_gateway_when_server_is_elsewhere() -> None:
    opts = render_opts([_subnet(cidr="10.91.0.0/24", gateway="10.91.0.1", host_routes=())],
                       SERVER_IP)
    assert "classless-static-route,169.254.169.254/32,10.91.0.1,0.0.0.0/0,10.91.0.1\n" in opts


def test_hosts_sorted_deduplicated_and_checked() -> None:
    s = _subnet()
    hosts = [DhcpHost("02:6B:74:00:00:0B", "10.90.0.11", "b"), DhcpHost(MAC_A, "10.90.0.10", "a"),
             DhcpHost(MAC_A, "10.90.0.10", "a"), DhcpHost(MAC_C, "10.77.0.1", "outside")]
    assert render_hosts([s], hosts) == f"{MAC_A},10.90.0.10,a\n{MAC_B},10.90.0.11,b\n"
    with pytest.raises(InvalidDhcpConfig):
        render_hosts([s], [DhcpHost(MAC_A, "10.90.0.10", "a"), DhcpHost(MAC_B, "10.90.0.10", "b")])


@pytest.mark.parametrize("kw", [
    {"cidr": "10.90.0.1/24"}, {"gateway": "10.1.1.1"}, {"mtu": 10}, {"dns": ("x",)},
    {"subnet_id": "a,b"}, {"host_routes": (("10.0.0.0/8", "nope"),)}, {"lease_seconds": 5},
])
def test_bad_subnets_rejected(kw: dict) -> None:
    with pytest.raises(InvalidDhcpConfig):
        _subnet(**kw)


@pytest.mark.parametrize("args", [
    ("aa:bb", "10.0.0.1", "h"), (MAC_A, "10.0.0.300", "h"), (MAC_A, "10.0.0.1", "bad,name"),
    (MAC_A, "10.0.0.1", "-x"),
])
def test_bad_hosts_rejected(args: tuple) -> None:
    with pytest.raises(InvalidDhcpConfig):
        DhcpHost(*args)


def test_bad_ids_rejected(tmp_path: Path) -> None:
    for net_id, ns, ifname in [("../x", "ns", "eth0"), (str(uuid.uuid4()).upper(), "ns", "eth0"),
                               (str(uuid.uuid4()), "a/b", "eth0"),
                               (str(uuid.uuid4()), "ns", "x" * 16)]:
        with pytest.raises(InvalidDhcpConfig):
            Dnsmasq(net_id, ns, ifname, tmp_path)


def test_stats_counts_log_incrementally_and_survives_truncation(tmp_path: Path) -> None:
    d = Dnsmasq(str(uuid.uuid4()), "kt-none", "eth0", tmp_path)
    d.dir.mkdir(parents=True)
    assert d.stats() == {"up": False, "leases": 0, "acks": 0, "naks": 0}
    ack = "Jan 1 00:00:00 dnsmasq-dhcp[7]: 1 DHCPACK(eth0) 10.90.0.10 02:00:00:00:00:01 a\n"
    nak = "Jan 1 00:00:00 dnsmasq-dhcp[7]: 2 DHCPNAK(eth0) 10.90.0.10 02:00:00:00:00:01 x\n"
    d.log_file.write_text(ack + nak + ack[:20])  # a partial line is not counted yet
    assert (d.stats()["acks"], d.stats()["naks"]) == (1, 1)
    with open(d.log_file, "a") as f:
        f.write(ack[20:] + ack)
    assert d.stats()["acks"] == 3
    d.log_file.write_text(ack)  # truncated (log rotated in place)
    assert d.stats()["acks"] == 4
    d.lease_file.write_text("86400 02:00:00:00:00:01 10.90.0.10 a *\n\n")
    assert d.stats()["leases"] == 1


# -- the real thing --------------------------------------------------------------------


@needs_netns
async def test_dnsmasq_lifecycle(pair: Pair, tmp_path: Path) -> None:
    net_id = str(uuid.uuid4())
    state = tmp_path / "state"
    subnet = _subnet()
    hosts = [DhcpHost(MAC_A, "10.90.0.10", "host-a")]
    d = Dnsmasq(net_id, pair.server, SERVER_IF, state)
    assert d.pid() is None

    assert await d.ensure([subnet], hosts, SERVER_IP) == "started"
    pid1 = d.pid()
    assert pid1 is not None and pid1 in netns.pids(pair.server)

    lease = await pair.udhcpc()
    assert lease is not None, (d.dir / "dnsmasq.log").read_text()
    assert lease["ip"] == "10.90.0.10"
    assert lease["mask"] == "24"
    assert lease["router"] == "10.90.0.1"
    assert lease["mtu"] == "1450"
    assert lease["dns"].split() == ["10.90.0.53"]
    routes = lease["staticroutes"].split()
    pairs = list(zip(routes[::2], routes[1::2], strict=True))
    assert ("169.254.169.254/32", SERVER_IP) in pairs
    assert ("10.99.0.0/16", "10.90.0.254") in pairs
    assert ("0.0.0.0/0", "10.90.0.1") in pairs

    # an unknown MAC gets nothing
    pair.set_client_mac(MAC_B)
    assert await pair.udhcpc(tries=3) is None
    assert f"{MAC_B} no address available" in d.log_file.read_text()  # heard, refused

    assert await d.ensure([subnet], hosts, SERVER_IP) == "unchanged"
    assert d.pid() == pid1

    hosts.append(DhcpHost(MAC_B, "10.90.0.11", "host-b"))
    assert await d.ensure([subnet], list(reversed(hosts)), SERVER_IP) == "reloaded"
    assert d.pid() == pid1
    lease = await pair.udhcpc()
    assert lease is not None and lease["ip"] == "10.90.0.11"

    # dnsmasq dies: the next ensure brings it back, leases still served
    os.kill(pid1, signal.SIGKILL)
    for _ in range(100):
        if not alive(pid1):
            break
        await asyncio.sleep(0.05)
    assert d.pid() is None
    assert d.stats()["up"] is False
    assert await d.ensure([subnet], hosts, SERVER_IP) == "restarted"
    pid2 = d.pid()
    assert pid2 is not None and pid2 != pid1
    pair.set_client_mac(MAC_A)
    lease = await pair.udhcpc()
    assert lease is not None and lease["ip"] == "10.90.0.10"

    # a new agent process adopts the running dnsmasq rather than starting another
    d2 = Dnsmasq(net_id, pair.server, SERVER_IF, state)
    assert d2.pid() == pid2
    assert await d2.ensure([subnet], hosts, SERVER_IP) == "unchanged"
    assert d2.pid() == pid2
    assert len([p for p in _running_in(pair.server)]) == 1

    stats = d2.stats()
    assert stats["up"] is True
    assert stats["acks"] >= 3 and stats["naks"] == 0
    assert stats["leases"] >= 1

    # an argv-relevant change (lease time) restarts it
    longer = _subnet(lease_seconds=7200)
    assert await d2.ensure([longer], hosts, SERVER_IP) == "restarted"
    pid3 = d2.pid()
    assert pid3 is not None and pid3 != pid2 and not alive(pid2)
    assert d.pid() == pid3  # the first object sees the same process
    lease = await pair.udhcpc()
    assert lease is not None and lease["ip"] == "10.90.0.10"

    await d2.stop()
    assert d2.pid() is None and d.pid() is None
    assert not alive(pid3)
    assert _running_in(pair.server) == []
    assert d2.stats()["up"] is False
    await d2.stop()  # idempotent
    assert await d.ensure([longer], hosts, SERVER_IP) == "started"  # clean stop → fresh start
    await d.stop()


@needs_netns
async def test_gatewayless_subnet_gets_empty_router(pair: Pair, tmp_path: Path) -> None:
    d = Dnsmasq(str(uuid.uuid4()), pair.server, SERVER_IF, tmp_path / "state")
    subnet = _subnet(gateway=None, dns=(), host_routes=())
    try:
        assert await d.ensure([subnet], [DhcpHost(MAC_A, "10.90.0.20", "a")], SERVER_IP) \
            == "started"
        lease = await pair.udhcpc()
        assert lease is not None and lease["ip"] == "10.90.0.20"
        assert lease["router"] == "" and lease["dns"] == ""
        assert lease["staticroutes"].split() == ["169.254.169.254/32", SERVER_IP]
    finally:
        await d.stop()


@needs_netns
async def test_start_failure_is_reported(tmp_path: Path) -> None:
    d = Dnsmasq(str(uuid.uuid4()), f"kt-absent-{secrets.token_hex(3)}", SERVER_IF, tmp_path)
    from kumo.drivers.dnsmasq import DnsmasqError

    with pytest.raises(DnsmasqError):
        await d.ensure([_subnet()], [], SERVER_IP)
    assert d.pid() is None


# -- netns helpers ---------------------------------------------------------------------


@pytest.fixture
def ns_name() -> Iterator[str]:
    name = f"kt-ns-{secrets.token_hex(3)}"
    try:
        yield name
    finally:
        _teardown(name)


@needs_netns
async def test_listen_tcp_inside_namespace(ns_name: str) -> None:
    netns.create(ns_name)
    assert netns.exists(ns_name)
    with socket.socket() as probe:  # a port that is free on the host
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    before = os.stat("/proc/thread-self/ns/net").st_ino

    sock = netns.listen_tcp(ns_name, "127.0.0.1", port)
    assert os.stat("/proc/thread-self/ns/net").st_ino == before  # we never moved
    assert sock.getblocking() is False

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, sock=sock)
    async with server:
        proc = await asyncio.create_subprocess_exec(
            "timeout", "5", "ip", "netns", "exec", ns_name,
            "/bin/busybox", "wget", "-q", "-O", "-", f"http://127.0.0.1:{port}/",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
        assert proc.returncode == 0
        assert out == b"hello"
        with pytest.raises(ConnectionRefusedError):  # not listening on the host
            await asyncio.open_connection("127.0.0.1", port)


@needs_netns
async def test_pids_and_delete_kill_what_runs_inside(ns_name: str) -> None:
    netns.create(ns_name)
    netns.create(ns_name)  # idempotent
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns_name, "sleep", "60", stdin=asyncio.subprocess.DEVNULL)
    try:
        for _ in range(100):
            if proc.pid in netns.pids(ns_name):
                break
            await asyncio.sleep(0.05)
        assert proc.pid in netns.pids(ns_name)
        assert os.getpid() not in netns.pids(ns_name)
        netns.delete(ns_name)
        assert not netns.exists(ns_name)
        assert await asyncio.wait_for(proc.wait(), 5) == -signal.SIGKILL
        assert netns.pids(ns_name) == []
        netns.delete(ns_name)  # a no-op now
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_bad_namespace_names() -> None:
    for bad in ("", "../etc", "a/b", ".hidden", "x" * 65):
        with pytest.raises(netns.NetnsError):
            netns.exists(bad)


@needs_netns
async def test_address_of_a_removed_port_goes_to_its_successor(pair: Pair,
                                                               tmp_path: Path) -> None:
    """A port deleted and its address given to a new port (new MAC): the new one gets it
    at once, not after the old lease expires."""
    d = Dnsmasq(str(uuid.uuid4()), pair.server, SERVER_IF, tmp_path / "state")
    assert await d.ensure([_subnet()], [DhcpHost(MAC_A, "10.90.0.10", "a")], SERVER_IP) \
        == "started"
    lease = await pair.udhcpc()
    assert lease is not None and lease["ip"] == "10.90.0.10"
    assert MAC_A in d.lease_file.read_text()
    assert await d.ensure([_subnet()], [DhcpHost(MAC_B, "10.90.0.10", "b")], SERVER_IP) \
        == "reloaded"
    assert MAC_A not in d.lease_file.read_text()
    pair.set_client_mac(MAC_B)
    lease = await pair.udhcpc()
    assert lease is not None and lease["ip"] == "10.90.0.10", d.log_file.read_text()[-2000:]
    await d.stop()
