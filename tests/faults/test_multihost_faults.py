"""Faults injected for real into a real 3-host cloud, each diagnosed by `kumo doctor`
(the CLI, inside the API namespace) with its root cause and owner, not its symptom.

The cloud (tests/faults/mhcloud.py): hosts in network namespaces on a 198.18.0.0/15
underlay, Linux bridges, VXLAN with l2population, dnsmasq, a QEMU guest (TCG) on host1
and ports bound on host2 and host3. The tests run in file order on one cloud; each
repairs (or lets kumo repair) what it broke. Run by `make faults` (KUMO_FAULTS=1).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from ..e2e.vmhelpers import need_qemu
from ..multihost import kill_pids
from .mhcloud import FaultCloud, rogue_dhcp, wait

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def cloud() -> Iterator[SimpleNamespace]:
    need_qemu()
    mh = FaultCloud(3, "qemu", agent_args=("--resync-interval", "2"))
    with mh:
        os_ = mh.openstack
        mh.import_kumo_tiny()
        net = os_("network", "create", "fault-net")
        os_("subnet", "create", "--network", net["id"], "--subnet-range", "10.44.0.0/24",
            "fault-sub")
        vni = int(os_("network", "show", net["id"])["provider:segmentation_id"])
        others = {i: os_("port", "create", "--network", net["id"], "--host", f"host{i}",
                         f"fault-p{i}") for i in (2, 3)}
        wait("ports on host2/3 ACTIVE", lambda: all(
            os_("port", "show", p["id"])["status"] == "ACTIVE" for p in others.values()))
        t0 = time.time()
        vm = os_("server", "create", "--image", "kumo-tiny", "--flavor", "m1.nano",
                 "--nic", f"net-id={net['id']}", "--availability-zone", "nova:host1",
                 "--wait", "fault-vm1")
        boot = time.time() - t0
        port = os_("port", "list", "--server", vm["id"])[0]
        yield SimpleNamespace(mh=mh, net=net, vni=vni, vx=f"kvx-{vni}", vm=vm, boot=boot,
                              port=os_("port", "show", port["ID"]), others=others)


def _dhcp_host(c: SimpleNamespace) -> tuple[int, str]:
    ports = c.mh.kumo_get("ports")["items"]
    dhcp = next(p for p in ports if p["spec"].get("deviceOwner") == "network:dhcp"
                and p["spec"]["networkId"] == c.net["id"])
    return int(dhcp["spec"]["bindingHostId"].removeprefix("host")), f"qdhcp-{c.net['id']}"


def test_healthy_cloud_then_server_boot_traced_on_three_hosts(cloud: SimpleNamespace) -> None:
    mh = cloud.mh
    rc, report = mh.doctor()
    assert rc == 0 and report["healthy"], report["findings"]
    assert {"vm-missing", "agent-version", "store-writer", "image-cache"} <= set(
        report["checks"])
    sid, pid = cloud.vm["id"], cloud.port["id"]
    ip = cloud.port["fixed_ips"][0]["ip_address"]
    tr = wait("trace converged, guest booted", lambda: (t := mh.trace(f"servers/{sid}"))[
        "converged"] and any(s["reason"] == "GuestBooted" for s in t["steps"]) and t,
        timeout=180)
    print(mh.trace(f"servers/{sid}", text=True))
    steps = tr["steps"]
    assert steps == sorted(steps, key=lambda s: s["start"]) and steps[0]["atMs"] == 0
    first = {}
    for i, s in enumerate(steps):
        first.setdefault((s["component"], s["reason"]), i)
    # the API request: the port (its address claimed first), then the Server, accepted
    api = [first[k] for k in (("ipam", "IPAllocated"), ("network-api", "Created"),
                              ("compute-api", "Created"), ("compute-api", "CreateAccepted"))]
    assert api == sorted(api) and all(steps[i]["atMs"] < 2000 for i in api)
    sched = steps[first[("scheduler", "Scheduled")]]
    assert first[("scheduler", "Scheduled")] > api[-1] and "host1" in sched["message"]
    spawned = steps[first[("compute-agent", "Spawned")]]
    assert spawned["host"] == "host1" and spawned["start"] >= sched["start"]
    assert int(spawned["revision"]) >= int(sched["revision"]) > 0
    plugged = steps[first[("network-agent", "VifPlugged")]]
    assert plugged["host"] == "host1" and plugged["object"] == f"Port/{pid}"
    l2pop = {s["host"]: s for s in steps if s["component"] == "l2pop"}
    assert set(l2pop) >= {"host2", "host3"}, steps
    for s in l2pop.values():  # the other hosts program vm1's MAC once the port is bound
        assert s["start"] >= sched["start"] and int(s["revision"]) >= int(sched["revision"])
    booted = steps[first[("guest", "GuestBooted")]]  # DHCP gave the guest its address
    assert ip in booted["message"] and booted["start"] > spawned["start"]
    assert all(s["host"] == "host1" for s in steps if s["component"] == "compute-agent")
    dhcp_host, _ = _dhcp_host(cloud)
    if dhcp_host != 1:  # DHCP for the port is served by another host: traced there too
        assert any(s["component"] == "dhcp" and s["host"] == f"host{dhcp_host}"
                   for s in steps)
    # the port and the network trace the same steps from their side
    ptr = mh.trace(f"ports/{pid}")
    assert {("l2pop", "host2"), ("l2pop", "host3")} <= {(s["component"], s["host"])
                                                       for s in ptr["steps"]}
    ntr = mh.trace(f"networks/{cloud.net['id']}")
    assert sum(1 for s in ntr["steps"] if s["reason"] == "IPAllocated") >= 3


def test_fdb_entry_deleted_on_host2(cloud: SimpleNamespace) -> None:
    mh, vx, mac = cloud.mh, cloud.vx, cloud.port["mac_address"]
    vtep1 = mh.underlay_ip(1)
    assert (mac, vtep1) in mh.fdb(2, vx)
    mh.exec_in(2, ["bridge", "fdb", "del", mac, "dev", vx, "dst", vtep1, "self"])
    f = mh.finding("overlay-drift", lambda f: mac in f["rootCause"], "--scope", "host:host2")
    assert f"FDB entry {mac} {vtep1} on {vx} was missing" in f["rootCause"]
    assert f["owner"] == "outside kumo on host2"
    wait("repaired", lambda: (mac, vtep1) in mh.fdb(2, vx))


def test_neighbour_entry_wrong_on_host3(cloud: SimpleNamespace) -> None:
    mh, vx = cloud.mh, cloud.vx
    ip, mac = cloud.port["fixed_ips"][0]["ip_address"], cloud.port["mac_address"]
    mh.exec_in(3, ["ip", "neigh", "replace", ip, "lladdr", "02:00:00:00:0b:ad", "dev", vx,
                   "nud", "permanent"])
    f = mh.finding("overlay-drift", lambda f: "02:00:00:00:0b:ad" in f["rootCause"] or (
        ip in f["rootCause"] and "ARP" in f["rootCause"]), "--scope", "host:host3")
    assert "ARP (neighbour) entry" in f["rootCause"] and f["owner"] == "outside kumo on host3"
    wait("neighbour repaired", lambda: mac in mh.exec_in(
        3, ["ip", "neigh", "show", ip, "dev", vx]).stdout)


def test_vxlan_device_deleted_on_host3(cloud: SimpleNamespace) -> None:
    mh, vx = cloud.mh, cloud.vx
    mh.exec_in(3, ["ip", "link", "del", vx])
    f = mh.finding("overlay-drift", lambda f: f"device {vx} on {vx} was missing" in
                   f["rootCause"], "--scope", "host:host3")
    assert f["owner"] == "outside kumo on host3" and "overlay connectivity" in f["symptom"]
    wait("vxlan re-created with its FDB", lambda: (cloud.port["mac_address"],
                                                   mh.underlay_ip(1)) in mh.fdb(3, vx))


def test_tap_unplugged_from_its_bridge_on_host1(cloud: SimpleNamespace) -> None:
    mh = cloud.mh
    tap, bridge = f"tap{cloud.port['id'][:11]}", f"kbr-{cloud.vni}"
    assert mh.master(1, tap) == bridge
    mh.exec_in(1, ["ip", "link", "set", tap, "nomaster"])
    f = mh.finding("overlay-drift", lambda f: "unplugged" in f["rootCause"], "--scope",
                   "host:host1")
    assert f"device {tap} was unplugged from its bridge {bridge}" in f["rootCause"]
    assert f["owner"] == "outside kumo on host1"
    wait("tap back on its bridge", lambda: mh.master(1, tap) == bridge)


def _dnsmasq_pid(mh: FaultCloud, host: int, nid: str) -> int | None:
    pidfile = mh.state_dir(host) / "dhcp" / nid / "pid"
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def test_dnsmasq_killed(cloud: SimpleNamespace) -> None:
    mh, nid = cloud.mh, cloud.net["id"]
    host, _ = _dhcp_host(cloud)
    old = _dnsmasq_pid(mh, host, nid)
    assert old is not None
    os.kill(old, signal.SIGKILL)
    f = mh.finding("overlay-drift", lambda f: f"dnsmasq {nid}" in f["rootCause"], "--scope",
                   f"host:host{host}")
    assert "DHCP server of dnsmasq" in f["rootCause"] and "found dead" in f["rootCause"]
    assert f["owner"] == f"outside kumo on host{host}" and "DHCP" in f["symptom"]
    wait("dnsmasq restarted", lambda: _dnsmasq_pid(mh, host, nid) not in (None, old))


def test_dnsmasq_hosts_file_edited_by_hand(cloud: SimpleNamespace) -> None:
    mh, nid, mac = cloud.mh, cloud.net["id"], cloud.port["mac_address"]
    host, _ = _dhcp_host(cloud)
    hosts = mh.state_dir(host) / "dhcp" / nid / "hosts"
    good = hosts.read_text()
    assert mac in good
    hosts.write_text("".join(line + "\n" for line in good.split() if mac not in line)
                     + "02:00:00:00:be:ef,10.44.0.250,intruder\n")
    f = mh.finding("overlay-drift", lambda f: "DHCP host entry" in f["rootCause"],
                   "--scope", f"host:host{host}")
    assert f"dnsmasq {nid} hosts file" in f["rootCause"]
    assert ("intruder" in f["rootCause"] or mac in f["rootCause"])
    assert f["owner"] == f"outside kumo on host{host}"
    wait("hosts file rewritten", lambda: hosts.read_text() == good)


def test_dhcp_down_because_port_67_is_taken(cloud: SimpleNamespace) -> None:
    """dnsmasq killed, and a second DHCP server holds its port: the agent cannot restart
    it, so DHCP stays down and the doctor says why (dnsmasq's own error)."""
    mh, nid = cloud.mh, cloud.net["id"]
    host, netns = _dhcp_host(cloud)
    old = _dnsmasq_pid(mh, host, nid)
    assert old is not None
    os.kill(old, signal.SIGKILL)
    rogue = rogue_dhcp(netns)
    try:
        f = mh.finding("dhcp", lambda f: len(f["chain"]) == 3, "--scope", f"host:host{host}")
        down = f"dnsmasq for network {nid} is not running on host host{host}"
        assert down in f["chain"][1]["what"]
        assert "Address already in use" in f["rootCause"] and f["severity"] == "critical"
        assert f["owner"] == f"outside kumo on host{host}"
    finally:
        rogue.kill()
        rogue.wait()
    wait("dnsmasq back", lambda: _dnsmasq_pid(mh, host, nid) not in (None, old), timeout=30)


def test_qemu_killed_behind_the_agents_back(cloud: SimpleNamespace) -> None:
    mh, sid = cloud.mh, cloud.vm["id"]
    pid = int((mh.state_dir(1) / "vms" / sid / "qemu.pid").read_text())
    kill_pids([pid])
    f = mh.finding("vm-missing", lambda f: f"Server/{sid}" in f["objects"], timeout=90)
    assert "QEMU process exited although nobody asked kumo" in f["rootCause"]
    assert f["owner"] == "outside kumo on host1" and f["severity"] == "critical"
    assert f["chain"][1]["component"] == "compute-agent@host1"
    print(mh.doctor_text("--scope", f"servers/{sid}"))
    mh.openstack("server", "reboot", "--hard", sid, json_out=False)
    wait("ACTIVE again", lambda: mh.openstack("server", "show", sid)["status"] == "ACTIVE",
         timeout=120)
    wait("no vm-missing", lambda: not any(f["check"] == "vm-missing"
                                          for f in mh.doctor()[1]["findings"]), timeout=30)


def test_image_cache_file_corrupted(cloud: SimpleNamespace) -> None:
    mh = cloud.mh
    image = mh.openstack("image", "show", "kumo-tiny")
    cached = mh.state_dir(1) / "images" / image["id"]
    assert cached.exists()
    with cached.open("ab") as fh:
        fh.write(b"\0bit rot\0")
    f = mh.finding("image-cache", lambda f: f"Image/{image['id']}" in f["objects"])
    assert image["checksum"] in f["rootCause"] and str(cached) in f["rootCause"]
    assert f["owner"] == "outside kumo on host1" and f["hosts"] == ["host1"]
    cached.unlink()  # the fix the doctor names: the next build downloads it again
    wait("finding gone", lambda: not any(f["check"] == "image-cache"
                                         for f in mh.doctor()[1]["findings"]))


def test_agent_of_an_old_build(cloud: SimpleNamespace) -> None:
    mh = cloud.mh
    mh.stop_agent(2)
    mh.agent_pythonpath = mh.old_build("0.0.9")
    try:
        mh.start_agent(2)
    finally:
        mh.agent_pythonpath = None
    f = mh.finding("agent-version", lambda f: f["hosts"] == ["host2"])
    assert "host host2 runs agent 0.0.9, the control plane runs 0.1.0" in f["rootCause"]
    assert "not upgraded" in f["rootCause"] and f["owner"] == "deployment of host2"
    assert f["severity"] == "critical"
    mh.stop_agent(2)
    mh.start_agent(2)
    wait("upgraded", lambda: not any(f["check"] == "agent-version"
                                     for f in mh.doctor()[1]["findings"]))


def test_agent_stopped_its_lease_expires_with_the_vm_running(cloud: SimpleNamespace) -> None:
    mh, sid = cloud.mh, cloud.vm["id"]
    mh.stop_agent(1)
    f = mh.finding("agent-down", lambda f: f["hosts"] == ["host1"], timeout=90)
    assert f["owner"] == "agent@host1" and "stopped renewing its Lease" in f["rootCause"]
    assert f"Server/{sid}" in f["objects"] and f["severity"] == "critical"
    qemu = int((mh.state_dir(1) / "vms" / sid / "qemu.pid").read_text())
    assert os.path.exists(f"/proc/{qemu}")  # the VM outlived its agent, by design
    # the symptom elsewhere is not blamed: no vm-missing for a VM nobody can see
    assert not any(x["check"] == "vm-missing" for x in mh.doctor()[1]["findings"])
    mh.start_agent(1)
    wait("agent back", lambda: not any(x["check"] == "agent-down"
                                       for x in mh.doctor()[1]["findings"]))


def test_store_writer_stalled_by_a_lock(cloud: SimpleNamespace) -> None:
    mh = cloud.mh
    db = next(mh.data_dir.glob("**/*.db"))
    holder = sqlite3.connect(str(db), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process takes the write lock and sits
    try:
        f = mh.finding("store-writer", lambda f: True, "--set", "store-writer.seconds=2",
                       timeout=40)
        assert f"pid {os.getpid()}" in f["rootCause"] and str(db) in f["rootCause"]
        assert f["owner"] == "outside kumo" and f["chain"][1]["component"].startswith("store")
        print(mh.doctor_text("--set", "store-writer.seconds=2"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    wait("writer healthy", lambda: not any(x["check"] == "store-writer"
                                           for x in mh.doctor()[1]["findings"]))


def test_uncoordinated_writer_is_refused_and_both_named(cloud: SimpleNamespace) -> None:
    """The talk's case on a live cloud: a controller PUTs a stale copy of a host."""
    mh, path = cloud.mh, "/apis/kumo.io/v1/hosts/host3"
    st, stale = mh.native("GET", path)
    assert st == 200
    merge = {"Content-Type": "application/merge-patch+json"}
    st, _ = mh.native("PATCH", path + "?fieldManager=flanneld", {"metadata": {
        "annotations": {"flannel.alpha.coreos.com/public-ip": mh.underlay_ip(3)}}}, merge)
    assert st == 200
    stale["metadata"]["annotations"] = {"rancher.io/managed": "true"}
    st, body = mh.native("PUT", path + "?fieldManager=rancher-node-controller", stale,
                         {"Content-Type": "application/json"})
    assert st == 409 and body["reason"] == "Conflict"
    st, kept = mh.native("GET", path)
    assert kept["metadata"]["annotations"]["flannel.alpha.coreos.com/public-ip"] == \
        mh.underlay_ip(3)
    f = mh.finding("writer-conflict", lambda f: "Host/host3" in f["objects"], "--scope",
                   "Host/host3")
    assert "rancher-node-controller" in f["owner"] and "flanneld" in f["rootCause"]
    print(mh.doctor_text("--scope", "Host/host3"))


def test_filled_quota(cloud: SimpleNamespace) -> None:
    mh = cloud.mh
    project = mh.openstack("project", "show", "admin")["id"]
    used = len(mh.openstack("network", "list", "--project", project))
    mh.openstack("quota", "set", "--networks", str(used), project, json_out=False)
    try:
        refused = mh.openstack("network", "create", "one-too-many", check=False)
        assert refused.returncode != 0 and "409" in refused.stderr + refused.stdout or \
            "Quota" in refused.stderr
        f = mh.finding("quota-full", lambda f: project in f["namespaces"], "--scope",
                       f"project:{project}")
        assert f"project {project} uses {used} of its {used} network" in f["rootCause"]
    finally:
        mh.openstack("quota", "set", "--networks", "100", project, json_out=False)
