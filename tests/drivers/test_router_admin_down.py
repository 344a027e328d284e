"""An administratively down router against the kernel: its namespace keeps its legs
(their addresses still answer) but forwards nothing, NATs nothing and its floating IP
answers no ARP; set up again, all of it comes back. Same lab as test_linuxnet_router
(namespaces this test makes and deletes; 10.x tenants and 198.18.0.0/15)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from kumo.drivers.linuxnet_router import RouterConfig

from .test_linuxnet_router import (  # noqa: F401  (pytestmark: root and nft)
    A1,
    B1,
    EXT_GW,
    FIP,
    ROUTER_EXT,
    SERVE,
    Lab,
    _build,
    open_lab,
    pytestmark,
    run,
)


@pytest.fixture
def lab() -> Iterator[Lab]:
    """test_linuxnet_router's lab: every namespace made here is deleted, also on failure."""
    with open_lab() as made:
        yield made


def _reaches(ns: str, ip: str, port: int) -> bool:
    code = (f"import socket\ns = socket.create_connection(('{ip}', {port}), timeout=1.5)\n"
            "print(s.recv(64).decode())")
    return run("ip", "netns", "exec", ns, "python3", "-c", code, check=False).returncode == 0


def _answers(ns: str, ip: str) -> bool:
    """Whether ``ip`` answers at all (a refused connection is an answer; there is no
    ping binary here): a connect to its discard port, 1.5 s at most."""
    code = ("import socket, sys\ntry:\n"
            f"    socket.create_connection(('{ip}', 9), timeout=1.5)\n"
            "except ConnectionRefusedError:\n    pass\n"
            "except OSError:\n    sys.exit(1)")
    return run("ip", "netns", "exec", ns, "python3", "-c", code, check=False).returncode == 0


def test_admin_down_router_keeps_legs_but_does_not_forward(lab: Lab) -> None:
    driver, up = _build(lab)
    driver.ensure(up)
    a1, b1, out = (f"kt{lab.tok}-{s}" for s in ("a1", "b1", "out"))
    for ns, port in ((out, 7000), (a1, 7001), (b1, 7002)):
        lab.spawn(ns, SERVE.format(port=port, stream=False))
    time.sleep(0.5)
    assert lab.ask(a1, B1, 7002) == A1 and lab.ask(out, FIP, 7001) == EXT_GW

    down = RouterConfig(netns=lab.router_ns, forwarding=False)  # what the agent computes
    assert driver.ensure(down) > 0
    assert lab.router_ns in driver.namespaces()
    fwd = run("ip", "netns", "exec", lab.router_ns, "cat", "/proc/sys/net/ipv4/ip_forward")
    assert fwd.stdout.strip() == "0"
    # the legs are still there: the router's own addresses answer on them
    assert _answers(a1, "10.1.0.1") and _answers(out, ROUTER_EXT), lab.dump()
    # ... but nothing crosses: east-west, out by SNAT, in by the floating IP
    assert not _reaches(a1, B1, 7002), lab.dump()
    assert not _reaches(a1, EXT_GW, 7000), lab.dump()
    run("ip", "-n", out, "neigh", "flush", "all")
    assert not _answers(out, FIP)
    assert "lladdr" not in run("ip", "-n", out, "neigh", "show", FIP).stdout
    # silence for want of a namespace would prove nothing: it and its legs are still there
    assert _answers(b1, "10.2.0.1") and _answers(a1, "10.1.0.1"), lab.dump()
    got = run("ip", "netns", "exec", lab.router_ns, "nft", "list", "table", "ip",
              "kumo_router", check=False)
    assert got.returncode == 0, got.stderr + lab.dump()
    rules = got.stdout
    assert "dnat" not in rules and "snat" not in rules, rules

    # up again: forwarding, NAT and the floating IP come back
    assert driver.ensure(up) > 0
    assert lab.ask(a1, B1, 7002) == A1
    assert lab.ask(a1, EXT_GW, 7000) == FIP
    assert lab.ask(out, FIP, 7001) == EXT_GW
    assert driver.delete(lab.router_ns) is True
