"""Three hosts, a real VXLAN overlay with l2population, DHCP, metadata — and faults.

Every host, guest and dnsmasq lives in namespaces the harness creates and
deletes (tests/multihost.py); the underlay is 198.18.0.0/15 inside them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kumo.drivers import netns as kns

from .test_network_single_host import ssh_public_key
from .vmhelpers import BOOT_MARKER, need_qemu, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def fdb(mh: Any, host: int, dev: str) -> set[tuple[str, str]]:
    p = mh.exec_in(host, ["bridge", "-j", "fdb", "show", "dev", dev], check=False)
    if p.returncode != 0 or not p.stdout.strip():
        return set()
    return {(e["mac"], e["dst"]) for e in json.loads(p.stdout) if e.get("dst")}


def neighbours(mh: Any, host: int, dev: str) -> set[tuple[str, str]]:
    p = mh.exec_in(host, ["ip", "-j", "neigh", "show", "dev", dev], check=False)
    if p.returncode != 0 or not p.stdout.strip():
        return set()
    return {(e["dst"], e.get("lladdr", "")) for e in json.loads(p.stdout)}


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def console(mh: Any, sid: str) -> str:
    return mh.openstack("console", "log", "show", sid, json_out=False, check=False).stdout


def peer_script(peer: str) -> str:
    """Fetch the peer's page every second, forever, and say so on the console."""
    return ("#!/bin/sh\n"
            "echo KEY: $(cat /root/.ssh/authorized_keys)\n"
            "(while true; do\n"
            f"   if out=$(timeout 3 wget -q -O - http://{peer}/); then echo PEER-OK $out;\n"
            "   else echo PEER-FAIL; fi; sleep 1; done) &\n")


def isolation_script(targets: list[str]) -> str:
    probes = " ".join(targets)
    return ("#!/bin/sh\n"
            "(leak=0; for i in $(seq 1 15); do\n"
            f"   for t in {probes}; do\n"
            "     if timeout 2 wget -q -O - http://$t/ >/dev/null; then leak=1; fi\n"
            "   done; sleep 1; done\n"
            " if [ $leak = 0 ]; then echo ISOLATED; else echo LEAK; fi) &\n")


def test_three_hosts_overlay_dhcp_metadata_and_faults(multihost, tmp_path: Path) -> None:
    need_qemu()
    with multihost(3, driver="qemu", agent_args=("--resync-interval", "5")) as mh:
        os_ = mh.openstack
        mh.import_kumo_tiny()
        net1 = os_("network", "create", "mh-net1")
        sub1 = os_("subnet", "create", "--network", net1["id"], "--subnet-range",
                   "10.30.0.0/24", "mh-sub1")
        net2 = os_("network", "create", "mh-net2")  # the same CIDR, another segment
        sub2 = os_("subnet", "create", "--network", net2["id"], "--subnet-range",
                   "10.30.0.0/24", "mh-sub2")
        vni1 = int(os_("network", "show", net1["id"])["provider:segmentation_id"])
        vx1 = f"kvx-{vni1}"
        keys: dict[str, str] = {}
        for name in ("vm1", "vm2", "vm3"):
            keys[name] = ssh_public_key(f"{name}@kumo")
            (tmp_path / f"{name}.pub").write_text(keys[name] + "\n")
            os_("keypair", "create", "--public-key", str(tmp_path / f"{name}.pub"),
                f"mh-{name}")
        ports = {
            "vm1": os_("port", "create", "--network", net1["id"], "--fixed-ip",
                       f"subnet={sub1['id']},ip-address=10.30.0.11", "mh-p1"),
            "vm3": os_("port", "create", "--network", net1["id"], "--fixed-ip",
                       f"subnet={sub1['id']},ip-address=10.30.0.13", "mh-p3"),
            "vm2": os_("port", "create", "--network", net2["id"], "--fixed-ip",
                       f"subnet={sub2['id']},ip-address=10.30.0.12", "mh-p2"),
        }
        scripts = {"vm1": peer_script("10.30.0.13"), "vm3": peer_script("10.30.0.11"),
                   "vm2": isolation_script(["10.30.0.11", "10.30.0.13"])}
        hosts = {"vm1": "host1", "vm2": "host2", "vm3": "host3"}
        servers = {}
        for name in ("vm1", "vm3", "vm2"):
            ud = tmp_path / f"{name}.sh"
            ud.write_text(scripts[name])
            servers[name] = os_("server", "create", "--image", "kumo-tiny", "--flavor",
                                "m1.nano", "--nic", f"port-id={ports[name]['id']}",
                                "--key-name", f"mh-{name}", "--user-data", str(ud),
                                "--availability-zone", f"nova:{hosts[name]}", name)
        for name, s in servers.items():
            shown = wait_for(f"{name} active", lambda s=s: (
                x := os_("server", "show", s["id"]))["status"] in ("ACTIVE", "ERROR") and x,
                timeout=120)
            assert shown["status"] == "ACTIVE", shown.get("fault")
            assert shown["OS-EXT-SRV-ATTR:host"] == hosts[name]

        # DHCP gave each guest its fixed IP, metadata its own name and key, and the two
        # guests of net1 on host1 and host3 fetch each other's page over VXLAN.
        for name, peer in (("vm1", "vm3"), ("vm3", "vm1")):
            log = wait_for(f"{name} fetched {peer}'s page", lambda n=name: (
                out := console(mh, servers[n]["id"])) and "PEER-OK" in out and out,
                timeout=240)
            ip = ports[name]["fixed_ips"][0]["ip_address"]
            assert f"{BOOT_MARKER} {name} {ip}" in log
            assert f"PEER-OK kumo-tiny {peer}" in log
            assert f"KEY: {keys[name]}" in log
            assert all(keys[k] not in log for k in keys if k != name)
        log2 = wait_for("vm2's isolation verdict", lambda: (
            out := console(mh, servers["vm2"]["id"])) and re.search(
                "ISOLATED|LEAK", out) and out, timeout=240)
        assert f"{BOOT_MARKER} vm2 10.30.0.12" in log2
        assert "ISOLATED" in log2 and "LEAK" not in log2

        # l2population: host1 knows vm3's MAC at host3's VTEP (and its ARP entry).
        mac1, mac3 = ports["vm1"]["mac_address"], ports["vm3"]["mac_address"]
        vtep = {i: mh.underlay_ip(i) for i in (1, 2, 3)}
        assert (mac3, vtep[3]) in fdb(mh, 1, vx1)
        assert ("00:00:00:00:00:00", vtep[3]) in fdb(mh, 1, vx1)
        assert ("10.30.0.13", mac3) in neighbours(mh, 1, vx1)
        assert (mac1, vtep[1]) in fdb(mh, 3, vx1)
        assert mh.exec_in(1, ["ip", "-j", "addr", "show", "dev", f"kbr-{vni1}"]).stdout.count(
            '"local"') == 0  # the host has no address on the tenant network

        # The agents' own metrics: l2pop entries programmed as desired, DHCP up.
        scrape = ("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
                  f"'http://{vtep[1]}:9774/metrics').read().decode())")
        text = mh.exec_in(1, [sys.executable, "-c", scrape]).stdout
        def gauge(**labels: str) -> float | None:
            for line in text.splitlines():
                if line.startswith("kumo_agent_l2pop_entries{") and all(
                        f'{k}="{v}"' in line for k, v in labels.items()):
                    return float(line.rsplit(" ", 1)[1])
            return None

        desired = gauge(host="host1", table="fdb", state="desired")
        programmed = gauge(host="host1", table="fdb", state="programmed")
        assert desired is not None and desired == programmed and desired >= 2, text

        # Fault: kill host1's agent; the guests keep talking (vm3's console, uploaded by
        # host3's agent, keeps counting successful fetches of vm1's page).
        before = console(mh, servers["vm3"]["id"]).count("PEER-OK")
        mh.kill_agent(1)
        wait_for("traffic to vm1 without its agent", lambda: console(
            mh, servers["vm3"]["id"]).count("PEER-OK") >= before + 3, timeout=60)
        mh.start_agent(1)

        # Fault: an FDB entry deleted by hand is repaired within the resync period (5 s).
        mh.exec_in(3, ["bridge", "fdb", "del", mac1, "dev", vx1, "dst", vtep[1], "self"])
        assert (mac1, vtep[1]) not in fdb(mh, 3, vx1)
        t0 = time.monotonic()
        wait_for("FDB entry repaired", lambda: (mac1, vtep[1]) in fdb(mh, 3, vx1), timeout=20)
        repaired = time.monotonic() - t0
        assert repaired < 10, repaired

        # Fault: kill dnsmasq; it is restarted and a new guest still gets its lease.
        dhcp = os_("port", "list", "--network", net1["id"], "--device-owner", "network:dhcp",
                   "--long")
        assert len(dhcp) == 1
        ns = f"qdhcp-{net1['id']}"

        def dnsmasq_pids() -> list[int]:
            return [p for p in kns.pids(ns) if comm(p) == "dnsmasq"]

        old = dnsmasq_pids()
        assert len(old) == 1
        os.kill(old[0], signal.SIGKILL)
        t0 = time.monotonic()
        wait_for("dnsmasq restarted", lambda: [p for p in dnsmasq_pids() if p != old[0]],
                 timeout=20)
        print(f"dnsmasq restarted {time.monotonic() - t0:.1f}s after kill -9")
        vm4 = os_("server", "create", "--image", "kumo-tiny", "--flavor", "m1.nano",
                  "--nic", f"net-id={net1['id']}", "--availability-zone", "nova:host2",
                  "--wait", "vm4")
        ip4 = vm4["addresses"]["mh-net1"][0]
        wait_for("vm4 leased its address from the restarted dnsmasq", lambda: (
            f"{BOOT_MARKER} vm4 {ip4}" in console(mh, vm4["id"])), timeout=240)

        # Fault: delete a host; every entry pointing at its VTEP vanishes elsewhere.
        assert any(dst == vtep[2] for _, dst in fdb(mh, 1, vx1))
        os_("server", "delete", "--wait", vm4["id"], servers["vm2"]["id"], json_out=False)
        os_("port", "create", "--network", net1["id"], "--host", "host2", "mh-pinned")
        wait_for("host2 known on host1", lambda: any(
            dst == vtep[2] for _, dst in fdb(mh, 1, vx1)), timeout=20)
        mh.delete_host(2)
        svc = [s for s in os_("compute", "service", "list") if s["Host"] == "host2"]
        os_("compute", "service", "delete", str(svc[0]["ID"]), json_out=False)
        for i in (1, 3):
            wait_for(f"host2's entries gone from host{i}", lambda i=i: not any(
                dst == vtep[2] for _, dst in fdb(mh, i, vx1)), timeout=20)
        # ...and net1's DHCP, wherever it was, is served by a live host.
        wait_for("DHCP port on a live host", lambda: os_("port", "show", dhcp[0]["ID"])[
            "binding_host_id"] in ("host1", "host3"), timeout=30)
