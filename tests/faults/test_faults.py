"""Faults injected for real into a live cloud (a `kumo api` process, agents with the fake
compute driver and in-memory networking), each diagnosed by `kumo doctor` — through its
API and its CLI — with the right root cause and owner."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..doctor.cloud import DoctorCloud

KUMO = str(Path(sys.executable).parent / "kumo")


@pytest.fixture(scope="module")
def cloud() -> DoctorCloud:
    with DoctorCloud(hosts=3) as c:
        yield c


def _finding(report: dict, check: str) -> dict | None:
    return next((f for f in report["findings"] if f["check"] == check), None)


def _ports(cloud: DoctorCloud, cidr: str) -> tuple[str, list[str]]:
    net, _ = cloud.network(cidr)
    ports = [cloud.bound_port(net, f"hv{i}") for i in range(3)]
    cloud.wait("ports ACTIVE", lambda: all(cloud.port_status(p) == "ACTIVE" for p in ports))
    return net, ports


def test_vxlan_device_deleted_by_hand(cloud: DoctorCloud) -> None:
    net, _ = _ports(cloud, "10.71.0.0/24")
    vx = f"kvx-{cloud.get(f'/network/v2.0/networks/{net}')['network']['provider:segmentation_id']}"
    fake = cloud.nets["hv2"]
    cloud.wait("vxlan on hv2", lambda: vx in fake.links(("kvx-",)))
    time.sleep(1.5)
    cloud.on_loop(lambda: fake.delete_link(vx))
    f = cloud.wait("drift", lambda: _finding(cloud.doctor("host:hv2"), "overlay-drift"))
    assert f"device {vx}" in f["rootCause"] and "missing" in f["rootCause"]
    assert f["owner"] == "outside kumo on hv2"
    cloud.wait("re-created", lambda: vx in fake.links(("kvx-",)))


def test_ip_allocation_deleted_breaks_ipam(cloud: DoctorCloud) -> None:
    _, ports = _ports(cloud, "10.72.0.0/24")
    fixed = cloud.get(f"/network/v2.0/ports/{ports[0]}")["port"]["fixed_ips"][0]
    name = f"{fixed['subnet_id']}.{fixed['ip_address']}"
    cloud.ok("DELETE", f"/apis/kumo.io/v1/ipallocations/{name}", 200)
    f = _finding(cloud.doctor(f"Port/{ports[0]}"), "ipam")
    assert f is not None and "no IPAllocation claims it" in f["rootCause"]
    assert f["owner"] == "ipam (core/ipam.py)" and f["severity"] == "critical"


def test_filled_quota_is_named(cloud: DoctorCloud) -> None:
    p = cloud.project
    used = cloud.get(f"/network/v2.0/quotas/{p}/details")["quota"]["network"]["used"]
    cloud.ok("PUT", f"/network/v2.0/quotas/{p}", 200, json={"quota": {"network": used + 1}})
    cloud.ok("POST", "/network/v2.0/networks", 201, json={"network": {"name": "last"}})
    r = cloud.req("POST", "/network/v2.0/networks", json={"network": {"name": "over"}})
    assert r.status_code == 409
    f = _finding(cloud.doctor(f"project:{p}"), "quota-full")
    assert f is not None and f"uses {used + 1} of its {used + 1} network" in f["rootCause"]
    cloud.ok("PUT", f"/network/v2.0/quotas/{p}", 200, json={"quota": {"network": 100}})


def test_cli_exit_status_and_member_refusal(cloud: DoctorCloud, tmp_path: Path) -> None:
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(cloud.api.data_dir / "clouds.yaml"),
           "OS_CLOUD": "kumo"}
    healthy = subprocess.run([KUMO, "doctor", "--scope", "host:hv0", "-o", "json"],
                             env=env, capture_output=True, text=True, timeout=60)
    cloud.stop_agent("hv0")
    cloud.ok("PATCH", "/apis/kumo.io/v1/leases/hv0", 200,
             json={"spec": {"renewTime": time.time() - 120}},
             headers={"Content-Type": "application/merge-patch+json"})
    sick = subprocess.run([KUMO, "doctor", "--scope", "host:hv0"], env=env,
                          capture_output=True, text=True, timeout=60)
    cloud.start_agent("hv0", "198.18.0.10")
    assert sick.returncode == 1, sick.stderr
    assert "agent-down" in sick.stdout and "owner: agent@hv0" in sick.stdout
    assert healthy.returncode in (0, 1) and '"findings"' in healthy.stdout
    member = cloud.ok("POST", "/v3/users", 201, json={"user": {
        "name": "m1", "password": "pw-m1-0123", "default_project_id": cloud.project}})
    role = cloud.get("/v3/roles", params={"name": "member"})["roles"][0]["id"]
    cloud.ok("PUT", f"/v3/projects/{cloud.project}/users/{member['user']['id']}/roles/{role}",
             204)
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(f"clouds:\n  m:\n    auth:\n      auth_url: {cloud.base}/v3\n"
                      "      username: m1\n      password: pw-m1-0123\n"
                      "      project_name: admin\n")
    refused = subprocess.run([KUMO, "doctor"], env={**env, "OS_CLIENT_CONFIG_FILE":
                                                    str(clouds), "OS_CLOUD": "m"},
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "403" in refused.stderr
    assert "admin token" in refused.stderr
