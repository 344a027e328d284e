"""Three faults injected for real into a live cloud (fake compute, in-memory networking),
each diagnosed by `kumo doctor` with its root cause and owner, not its symptom. The full
suite is tests/faults (`make faults`)."""

from __future__ import annotations

import time

import pytest

from .cloud import DoctorCloud


@pytest.fixture(scope="module")
def cloud() -> DoctorCloud:
    with DoctorCloud(hosts=2) as c:
        yield c


def _two_ports(cloud: DoctorCloud, cidr: str) -> tuple[str, str, str]:
    net, _ = cloud.network(cidr)
    a, b = cloud.bound_port(net, "hv0"), cloud.bound_port(net, "hv1")
    cloud.wait("ports ACTIVE", lambda: all(cloud.port_status(p) == "ACTIVE" for p in (a, b)))
    return net, a, b


def _finding(report: dict, check: str) -> dict | None:
    return next((f for f in report["findings"] if f["check"] == check), None)


def test_fdb_entry_deleted_by_hand_is_drift_outside_kumo(cloud: DoctorCloud) -> None:
    net, a, b = _two_ports(cloud, "10.61.0.0/24")
    mac_b = cloud.get(f"/network/v2.0/ports/{b}")["port"]["mac_address"]
    seg = cloud.get(f"/network/v2.0/networks/{net}", headers={})["network"]
    vx = f"kvx-{seg['provider:segmentation_id']}"
    fake = cloud.nets["hv0"]
    cloud.wait("hv0 has b's FDB entry", lambda: any(m == mac_b for m, _ in fake.fdb(vx)))
    cloud.wait("report written", lambda: cloud.native("agentreports", "hv0"))
    time.sleep(1.5)  # one clean sync with this desired state

    def delete() -> None:  # `bridge fdb del` by hand, on hv0's "kernel"
        with fake._lock:
            fake.fdbs[vx] = {e for e in fake.fdbs[vx] if e[0] != mac_b}
    cloud.on_loop(delete)

    f = cloud.wait("drift found", lambda: _finding(cloud.doctor("host:hv0"), "overlay-drift"))
    assert mac_b in f["rootCause"] and vx in f["rootCause"]
    assert "outside kumo" in f["rootCause"] and f["owner"] == "outside kumo on hv0"
    cloud.wait("repaired", lambda: any(m == mac_b for m, _ in fake.fdb(vx)))


def test_stopped_agent_is_the_root_cause_of_its_ports(cloud: DoctorCloud) -> None:
    _, a, b = _two_ports(cloud, "10.62.0.0/24")
    cloud.stop_agent("hv1")
    # time passes: the Lease of hv1 is older than its duration (stale heartbeat)
    cloud.ok("PATCH", "/apis/kumo.io/v1/leases/hv1", 200,
             json={"spec": {"renewTime": time.time() - 120}},
             headers={"Content-Type": "application/merge-patch+json"})
    report = cloud.doctor()
    assert not report["healthy"]
    f = _finding(report, "agent-down")
    assert f is not None and f["owner"] == "agent@hv1" and f["severity"] == "critical"
    assert f"Port/{b}" in f["objects"] and "stopped renewing its Lease" in f["rootCause"]
    # the port on hv1 is in scope of the host, and its trace says who we would wait on
    assert _finding(cloud.doctor("host:hv1"), "agent-down") is not None
    assert _finding(cloud.doctor("host:hv0"), "agent-down") is None
    cloud.start_agent("hv1", "198.18.0.11")
    cloud.wait("agent back", lambda: _finding(cloud.doctor(), "agent-down") is None)


def test_uncoordinated_writer_is_refused_and_both_writers_named(cloud: DoctorCloud) -> None:
    """The talk's case: a controller writes a stale copy of a node without merging."""
    path = "/apis/kumo.io/v1/hosts/hv0"
    stale = cloud.get(path)  # the second controller's cached copy
    merge = {"Content-Type": "application/merge-patch+json"}
    cloud.ok("PATCH", path + "?fieldManager=flanneld", 200, headers=merge, json={
        "metadata": {"annotations": {"flannel.alpha.coreos.com/public-ip": "198.18.0.10"}}})
    stale["metadata"]["annotations"] = {"rancher.io/managed": "true"}
    r = cloud.req("PUT", path + "?fieldManager=rancher-node-controller", json=stale)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    kept = cloud.get(path)["metadata"]["annotations"]
    assert kept["flannel.alpha.coreos.com/public-ip"] == "198.18.0.10"
    f = _finding(cloud.doctor("Host/hv0"), "writer-conflict")
    assert f is not None
    assert "rancher-node-controller" in f["owner"] and "flanneld" in f["rootCause"]
