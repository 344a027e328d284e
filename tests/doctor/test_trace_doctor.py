"""`kumo trace` and `kumo doctor` against a live cloud: a real `kumo api` process and
two host agents (fake compute, in-memory networking) — see cloud.py."""

from __future__ import annotations

import pytest

from .cloud import DoctorCloud


@pytest.fixture(scope="module")
def cloud() -> DoctorCloud:
    with DoctorCloud(hosts=2) as c:
        yield c


def test_healthy_cloud_has_no_findings(cloud: DoctorCloud) -> None:
    net, _ = cloud.network("10.51.0.0/24")
    a, b = cloud.bound_port(net, "hv0"), cloud.bound_port(net, "hv1")
    cloud.wait("ports ACTIVE", lambda: all(cloud.port_status(p) == "ACTIVE" for p in (a, b)))
    report = cloud.wait("healthy", lambda: (r := cloud.doctor())["healthy"] and r)
    assert report["findings"] == [] and report["counted"]["ports"] >= 2
    assert "agent-down" in report["checks"] and "writer-conflict" in report["checks"]


def test_port_trace_shows_ipam_plug_and_l2pop_on_the_other_host(cloud: DoctorCloud) -> None:
    net, _ = cloud.network("10.52.0.0/24")
    a = cloud.bound_port(net, "hv0")
    b = cloud.bound_port(net, "hv1")
    cloud.wait("ports ACTIVE", lambda: all(cloud.port_status(p) == "ACTIVE" for p in (a, b)))
    tr = cloud.wait("l2pop traced", lambda: (t := cloud.trace("ports", a))["converged"] and t)
    steps = {(s["component"], s["reason"], s["host"]) for s in tr["steps"]}
    assert ("ipam", "IPAllocated", None) in steps
    assert ("network-agent", "VifPlugged", "hv0") in steps
    assert ("l2pop", "Programmed", "hv1") in steps
    plugged = next(s for s in tr["steps"] if s["reason"] == "VifPlugged")
    assert plugged["revision"] and int(plugged["revision"]) > 0
    assert tr["steps"] == sorted(tr["steps"], key=lambda s: s["start"])
