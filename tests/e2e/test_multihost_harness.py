"""The multi-host harness itself: 2 hosts in namespaces, QEMU guests, clean teardown."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest

from ..multihost import MultiHostFactory, netns_list, processes_matching
from .vmhelpers import need_qemu, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def root_underlay_addresses() -> list[str]:
    """Addresses of the root namespace on the underlay (there must never be any)."""
    links = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True,
                                      check=True).stdout)
    return [f"{link['ifname']} {a['local']}" for link in links
            for a in link.get("addr_info", []) if a.get("local", "").startswith("198.1")]


def root_addresses() -> set[str]:
    links = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True,
                                      check=True).stdout)
    return {f"{link['ifname']} {a.get('local')}" for link in links
            for a in link.get("addr_info", [])}


def test_two_hosts_boot_guests_and_leave_nothing_behind(multihost: MultiHostFactory) -> None:
    need_qemu()
    root_before = root_addresses()
    ns_before = netns_list()
    t0 = time.perf_counter()
    with multihost(2, driver="qemu") as mh:
        print(f"\n2-host cloud up in {mh.startup_seconds:.1f}s (suffix {mh.suffix})")
        suffix, tmp = mh.suffix, str(mh.tmp_dir)
        hyps = mh.openstack("hypervisor", "list")
        state = {h["Hypervisor Hostname"]: h["State"] for h in hyps}
        assert state == {"host1": "up", "host2": "up"}, hyps

        assert mh.ping("api", mh.underlay_ip(2))
        assert mh.ping(1, mh.underlay_ip(2))
        assert mh.ping(2, "198.18.0.1")
        assert not root_underlay_addresses()
        assert root_addresses() == root_before

        t1 = time.perf_counter()
        image = mh.import_kumo_tiny()
        assert image["status"] == "active"
        print(f"kumo-tiny imported in {time.perf_counter() - t1:.1f}s")
        t1 = time.perf_counter()
        servers: list[dict[str, Any]] = [
            mh.openstack("server", "create", "--flavor", "m1.nano", "--image", "kumo-tiny",
                         "--nic", "none", "--wait", f"mh-vm-{n}") for n in (1, 2)]
        print(f"two servers ACTIVE in {time.perf_counter() - t1:.1f}s")
        assert [s["status"] for s in servers] == ["ACTIVE", "ACTIVE"], servers
        hosts = {mh.openstack("server", "show", s["id"])["OS-EXT-SRV-ATTR:host"]
                 for s in servers}
        print(f"servers landed on {sorted(hosts)}")
        assert hosts <= {"host1", "host2"}
        vm_pids = [p for p, line in processes_matching(tmp) if "qemu-system" in line]
        assert len(vm_pids) == 2, vm_pids
        mine = {ns for ns in netns_list() if ns.endswith(suffix)}
        assert mine == {f"kf-{suffix}", f"ka-{suffix}", f"kh1-{suffix}", f"kh2-{suffix}"}

    print(f"whole run {time.perf_counter() - t0:.1f}s")
    assert not [ns for ns in netns_list() if suffix in ns]
    assert not [ns for ns in netns_list() - ns_before if ns.startswith("qdhcp-")]
    wait_for("no process of this run", lambda: not processes_matching(tmp), timeout=10)
    assert not processes_matching(f"-{suffix}")
    assert root_addresses() == root_before


def test_agent_lifecycle_and_delete_host(multihost: MultiHostFactory) -> None:
    with multihost(3, driver="fake") as mh:
        print(f"\n3-host cloud up in {mh.startup_seconds:.1f}s (suffix {mh.suffix})")
        assert mh.ping(3, mh.underlay_ip(1))
        old = mh.agent_pid(2)
        assert mh.kill_agent(2) is not None and mh.agent_pid(2) is None
        mh.start_agent(2)  # waits until the new agent's own lease is in the store
        assert mh.agent_pid(2) not in (None, old)
        lease = mh.kumo_get("leases", "host2")
        assert lease["spec"]["holderIdentity"] == f"host2/{mh.agent_pid(2)}"
        mh.stop_agent(1)
        assert mh.agent_pid(1) is None

        mh.delete_host(3)
        assert mh.host_ns(3) not in netns_list()
        assert mh.ping(2, mh.underlay_ip(1)) and not mh.ping(2, mh.underlay_ip(3))
        suffix, tmp = mh.suffix, mh.tmp_dir
    assert not [ns for ns in netns_list() if suffix in ns]
    assert not tmp.exists() and not processes_matching(str(tmp))


def test_failed_start_tears_down_what_was_built(multihost: MultiHostFactory) -> None:
    mh = multihost(2, driver="fake", agent_args=["--no-such-option"], start_timeout=20)
    with pytest.raises(RuntimeError, match="agent host1 exited"):
        mh.start()
    assert not [ns for ns in netns_list() if mh.suffix in ns]
    assert not mh.tmp_dir.exists() and not processes_matching(str(mh.tmp_dir))
