"""A host namespace with a kumo bridge and "VMs" (namespaces on veth pairs named like
taps) for firewall tests that send real packets: TCP connects between the VMs, with the
security-group tables programmed into the host namespace by the real driver.

Every namespace is the test's own (``ksg<rand>-*``) and deleted at the end; addresses are
10.77.0.0/24 inside them; nothing leaves them.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

_SERVER = r"""
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(b"ok"); c.close()
for p in sys.argv[1:]:
    threading.Thread(target=serve, args=(int(p),), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""
_CLIENT = r"""
import socket, sys
s = socket.socket()
if len(sys.argv) > 4: s.bind((sys.argv[4], 0))
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print(s.recv(2).decode())
except OSError as e:
    print("fail", e)
"""


def need_root_nft() -> None:
    import os
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        pytest.skip("needs root, nft and ip (network namespaces)")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Vm:
    port: dict[str, Any]
    ns: str
    address: str

    @property
    def port_id(self) -> str:
        return self.port["metadata"]["name"]


@dataclass
class Lab:
    prefix: str = field(default_factory=lambda: "ksg" + secrets.token_hex(3))
    vms: list[Vm] = field(default_factory=list)
    servers: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"{self.prefix}-h"

    def __enter__(self) -> Lab:
        ip("netns", "add", self.host)
        ip("-n", self.host, "link", "add", "kbr-77", "type", "bridge")
        ip("-n", self.host, "link", "set", "kbr-77", "up")
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.servers:
            p.kill()
            p.wait()
        for vm in self.vms:
            subprocess.run(["ip", "netns", "del", vm.ns], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.host], capture_output=True)

    def vm(self, n: int, groups: list[str], *, project: str = "p1", port_security: bool = True,
           pairs: list[dict[str, str]] | None = None) -> Vm:
        pid = str(uuid.uuid4())
        mac = f"fa:16:3e:77:00:{n:02x}"
        address = f"10.77.0.{n}"
        port = {"metadata": {"name": pid, "namespace": project},
                "spec": {"macAddress": mac, "fixedIps": [{"ipAddress": address}],
                         "securityGroups": groups, "portSecurityEnabled": port_security,
                         "allowedAddressPairs": pairs or [], "bindingHostId": "h1",
                         "deviceOwner": "compute:nova", "networkId": "n1"}}
        ns = f"{self.prefix}-v{n}"
        tap = "tap" + pid[:11]
        ip("netns", "add", ns)
        ip("-n", self.host, "link", "add", tap, "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        ip("-n", self.host, "link", "set", tap, "master", "kbr-77", "up")
        ip("-n", ns, "link", "set", "eth0", "address", mac)
        ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")
        vm = Vm(port, ns, address)
        self.vms.append(vm)
        return vm

    def serve(self, vm: Vm, *ports: int) -> None:
        p = subprocess.Popen(["ip", "netns", "exec", vm.ns, sys.executable, "-c", _SERVER,
                              *map(str, ports)], stdout=subprocess.PIPE, text=True)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        self.servers.append(p)

    def connects(self, src: Vm, dst: Vm, port: int, timeout: float = 1.0,
                 source: str | None = None) -> bool:
        argv = ["ip", "netns", "exec", src.ns, sys.executable, "-c", _CLIENT, dst.address,
                str(port), str(timeout), *([source] if source else [])]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 10)
        return out.stdout.strip() == "ok"

    def wait_connects(self, src: Vm, dst: Vm, port: int, want: bool,
                      seconds: float = 5.0) -> float:
        """Seconds until connecting gives ``want`` (raises if it never does)."""
        t0 = time.monotonic()
        while True:
            if self.connects(src, dst, port, timeout=0.5) == want:
                return time.monotonic() - t0
            if time.monotonic() - t0 > seconds:
                raise AssertionError(f"{src.address} → {dst.address}:{port} never became "
                                     f"{'open' if want else 'closed'}")


def rule(group: str, direction: str, protocol: str | None = None, lo: int | None = None,
         hi: int | None = None, prefix: str | None = None, remote: str | None = None,
         ethertype: str = "IPv4", project: str = "p1") -> dict[str, Any]:
    return {"metadata": {"name": str(uuid.uuid4()), "namespace": project},
            "spec": {"securityGroupId": group, "direction": direction, "ethertype": ethertype,
                     "protocol": protocol, "portRangeMin": lo, "portRangeMax": hi,
                     "remoteIpPrefix": prefix, "remoteGroupId": remote}}


def default_rules(group: str, project: str = "p1") -> list[dict[str, Any]]:
    """Neutron's default group: all egress, ingress from the group's own members."""
    return [rule(group, "egress", project=project),
            rule(group, "egress", ethertype="IPv6", project=project),
            rule(group, "ingress", remote=group, project=project),
            rule(group, "ingress", remote=group, ethertype="IPv6", project=project)]


_ECHO = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(4)
print("ready", flush=True)
c, _ = s.accept()
while True:
    data = c.recv(64)
    if not data:
        break
    c.sendall(data)
"""
_TALKER = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.0)
while True:
    try:
        s.sendall(b"x"); s.recv(64); print("alive", flush=True)
    except OSError:
        print("dead", flush=True); break
    time.sleep(0.1)
"""


def long_connection(lab: Lab, server: Vm, client: Vm, port: int
                    ) -> subprocess.Popen[str]:
    """An echo connection from client to server, printing alive/dead as it goes."""
    echo = subprocess.Popen(["ip", "netns", "exec", server.ns, sys.executable, "-c", _ECHO,
                             str(port)], stdout=subprocess.PIPE, text=True)
    assert echo.stdout is not None and echo.stdout.readline().strip() == "ready"
    lab.servers.append(echo)
    talker = subprocess.Popen(["ip", "netns", "exec", client.ns, sys.executable, "-c",
                               _TALKER, server.address, str(port)], stdout=subprocess.PIPE,
                              text=True)
    lab.servers.append(talker)
    assert talker.stdout is not None and talker.stdout.readline().strip() == "alive"
    return talker
