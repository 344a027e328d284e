"""Security groups enforced on real guests (TCG): `kumo up` inside a namespace, three
kumo-tiny VMs on one network, every change made through the openstack CLI.

    target     default group, serves HTTP on port 80
    spoofer    default group (a member: may reach the target), then sends from a
               forged IP, then from a forged MAC
    outsider   a group of its own ("outside": egress only, like another project's
               default group seen from the target's): must not get in until a rule says

The guests report every probe on their console (PROBE-OK / PROBE-FAIL …); the test
reads the console log through the API.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from ..conftest import LiveCloud
from .test_network_single_host import console, ns_cloud  # noqa: F401 (fixture)
from .vmhelpers import BOOT_MARKER, wait_for, wait_image_active

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TARGET = "10.40.0.10"

PROBE = ("probe() { if timeout 3 wget -q -O - http://" + TARGET + "/ >/dev/null 2>&1; "
         "then echo \"$1-OK\"; else echo \"$1-FAIL\"; fi; sleep 1; }\n")
OUTSIDER = "#!/bin/sh\n" + PROBE + "(while true; do probe PROBE; done) &\n"
SPOOFER = ("#!/bin/sh\n" + PROBE +
           "(for i in 1 2 3 4 5 6 7 8 9 10; do probe PROBE; done\n"
           " ip addr flush dev eth0; ip addr add 10.40.0.99/24 dev eth0\n"
           " for i in 1 2 3 4; do probe SPOOF-IP; done\n"
           " ip addr flush dev eth0; ip addr add 10.40.0.13/24 dev eth0\n"
           " for i in 1 2 3 4 5 6; do probe RESTORED; done\n"
           " ip link set eth0 down; ip link set eth0 address fa:16:3e:66:66:66\n"
           " ip link set eth0 up\n"
           " for i in 1 2 3 4; do probe SPOOF-MAC; done; echo SPOOF-DONE) &\n")


def probes(log: str, tag: str) -> list[bool]:
    return [m == "OK" for m in re.findall(rf"^{tag}-(OK|FAIL)\s*$", log, re.M)]


def _boot(c: LiveCloud, tmp: Path, name: str, port: str, script: str | None) -> str:
    args = ["server", "create", "--image", "kumo-tiny", "--flavor", "m1.nano",
            "--nic", f"port-id={port}"]
    if script:
        (tmp / f"{name}.sh").write_text(script)
        args += ["--user-data", str(tmp / f"{name}.sh")]
    return c.openstack(*args, name)["id"]


def _outsider_settles(c: LiveCloud, sid: str, ok: bool, since: int) -> float:
    """Seconds until the outsider's last three probes (after ``since`` probes) all
    agree with ``ok``."""
    t0 = time.monotonic()

    def settled() -> bool:
        got = probes(console(c, sid), "PROBE")[since:]
        return len(got) >= 3 and all(x == ok for x in got[-3:])

    wait_for(f"outsider {'admitted' if ok else 'refused'}", settled, timeout=120,
             interval=1)
    return time.monotonic() - t0


def test_groups_enforced_on_guests(ns_cloud: LiveCloud, tmp_path: Path) -> None:  # noqa: F811
    c = ns_cloud
    os_ = c.openstack
    wait_image_active(os_)
    net = os_("network", "create", "sg-net")["id"]
    sub = os_("subnet", "create", "--network", net, "--subnet-range", "10.40.0.0/24",
              "sg-sub")["id"]
    outside = os_("security group", "create", "outside")["id"]
    third = os_("security group", "create", "third")["id"]

    def port(name: str, ip: str, *groups: str) -> dict:
        args = ["port", "create", "--network", net, "--fixed-ip",
                f"subnet={sub},ip-address={ip}"]
        for g in groups:
            args += ["--security-group", g]
        return os_(*args, name)

    target = port("target", TARGET)
    default = target["security_group_ids"][0]
    spoof_port = port("spoofer", "10.40.0.13", default)
    out_port = port("outsider", "10.40.0.12", outside)
    sids = {"target": _boot(c, tmp_path, "target", target["id"], None),
            "spoofer": _boot(c, tmp_path, "spoofer", spoof_port["id"], SPOOFER),
            "outsider": _boot(c, tmp_path, "outsider", out_port["id"], OUTSIDER)}
    for name, sid in sids.items():
        wait_for(f"{name} booted", lambda sid=sid: BOOT_MARKER in console(c, sid),
                 timeout=300, interval=2)

    # A member of the target's default group gets in; forged IP and MAC get nothing.
    log = wait_for("spoofer done", lambda: "SPOOF-DONE" in (x := console(
        c, sids["spoofer"])) and x, timeout=240, interval=2)
    assert any(probes(log, "PROBE")), log[-2000:]
    assert probes(log, "SPOOF-IP") == [False] * 4, log[-2000:]
    assert any(probes(log, "RESTORED")), log[-2000:]
    assert probes(log, "SPOOF-MAC") == [False] * 4, log[-2000:]

    # The outsider (not a member) is refused; a TCP 80 rule lets it in, removing it
    # shuts it out again.
    first = probes(console(c, sids["outsider"]), "PROBE")
    assert len(first) >= 3 and not any(first), first
    rule = os_("security group rule create", "--ingress", "--protocol", "tcp",
               "--dst-port", "80", "--remote-ip", "0.0.0.0/0", default)["id"]
    opened = _outsider_settles(c, sids["outsider"], True, len(first))
    os_("security group rule delete", rule, json_out=False)
    n = len(probes(console(c, sids["outsider"]), "PROBE"))
    closed = _outsider_settles(c, sids["outsider"], False, n)

    # Remote group: port 80 from members of "outside"; the outsider leaves that group
    # (Nova's server actions) and is shut out.
    os_("security group rule create", "--ingress", "--protocol", "tcp", "--dst-port", "80",
        "--remote-group", outside, default)
    n = len(probes(console(c, sids["outsider"]), "PROBE"))
    _outsider_settles(c, sids["outsider"], True, n)
    os_("server", "add", "security", "group", sids["outsider"], third, json_out=False)
    os_("server", "remove", "security", "group", sids["outsider"], "outside",
        json_out=False)
    assert os_("port", "show", out_port["id"])["security_group_ids"] == [third]
    n = len(probes(console(c, sids["outsider"]), "PROBE"))
    _outsider_settles(c, sids["outsider"], False, n)
    print(f"rule → outsider admitted in {opened:.1f} s, removed → refused in {closed:.1f} s "
          "(console-upload and probe cadence included)")
