"""Doctor checks on a live cloud (a `kumo api` process, in-process agents with the fake
compute driver): VMs vs servers from the agents' inventories, thresholds changed with
``--set``, the store's own watchers, and the ``kumo trace -o json`` shape."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from .cloud import DoctorCloud

KUMO = str(Path(sys.executable).parent / "kumo")


@pytest.fixture(scope="module")
def cloud() -> DoctorCloud:
    with DoctorCloud(hosts=2) as c:
        yield c


def _finding(report: dict, check: str, obj: str | None = None) -> dict | None:
    return next((f for f in report["findings"] if f["check"] == check
                 and (obj is None or obj in f["objects"])), None)


def _active(cloud: DoctorCloud, host: str, cidr: str) -> str:
    net, _ = cloud.network(cidr)
    sid = cloud.server(cloud.image(), net, host)
    cloud.wait("ACTIVE", lambda: cloud.get(f"/compute/v2.1/servers/{sid}")["server"][
        "status"] == "ACTIVE")
    return sid


def test_inventory_reports_vms_images_and_version(cloud: DoctorCloud) -> None:
    sid = _active(cloud, "hv0", "10.81.0.0/24")
    rep = cloud.wait("inventory has the VM", lambda: (r := cloud.native(
        "agentreports", "hv0")["status"]) and any(v["id"] == sid for v in r.get("vms", []))
        and r)
    vm = next(v for v in rep["vms"] if v["id"] == sid)
    assert vm["power"] == "running" and vm["stray"] is False
    assert rep["agentVersion"] == "0.1.0" and rep["images"] and rep["images"][0]["md5"]
    report = cloud.doctor()
    assert report["controlPlaneVersion"] == "0.1.0"
    assert _finding(report, "vm-missing") is None and _finding(report, "vm-stray") is None


def test_vm_crashed_is_vm_missing_with_its_host(cloud: DoctorCloud) -> None:
    sid = _active(cloud, "hv1", "10.82.0.0/24")
    fake = cloud.agents["hv1"].driver
    cloud.on_loop(lambda: fake.crash(sid))
    f = cloud.wait("vm-missing", lambda: _finding(cloud.doctor(f"servers/{sid}"),
                                                  "vm-missing", f"Server/{sid}"))
    assert f["hosts"] == ["hv1"] and f["owner"] == "outside kumo on hv1"
    assert "crashed" in f["chain"][1]["what"]
    cloud.ok("POST", f"/compute/v2.1/servers/{sid}/action", 202,
             json={"reboot": {"type": "HARD"}})
    cloud.wait("fixed", lambda: _finding(cloud.doctor(), "vm-missing", f"Server/{sid}")
               is None)


def test_stray_vm_no_server_owns(cloud: DoctorCloud) -> None:
    from kumo.drivers.fake import _VM

    stray = str(uuid.uuid4())
    fake = cloud.agents["hv0"].driver
    cloud.on_loop(lambda: fake.vms.__setitem__(stray, _VM(None, "running")))  # type: ignore[arg-type]
    f = cloud.wait("vm-stray", lambda: _finding(cloud.doctor("host:hv0"), "vm-stray",
                                                f"VM/{stray}"))
    assert f["owner"] == "outside kumo on hv0" and "no server bound to hv0" in f["rootCause"]
    assert _finding(cloud.doctor("host:hv1"), "vm-stray") is None
    cloud.on_loop(lambda: fake.vms.pop(stray))
    cloud.wait("gone", lambda: _finding(cloud.doctor(), "vm-stray") is None)


def test_stuck_build_threshold_is_settable(cloud: DoctorCloud) -> None:
    net, _ = cloud.network("10.83.0.0/24")
    cloud.stop_agent("hv1")  # its lease is still alive: the scheduler binds to it
    sid = cloud.server(cloud.image(), net, "hv1")
    cloud.wait("bound", lambda: cloud.native("servers", sid, cloud.project)["spec"].get("host"))
    time.sleep(1.5)
    assert _finding(cloud.doctor(), "stuck-build") is None  # 120 s by default
    r = cloud.get("/diagnose/v1/doctor", params={"set": "stuck-build.seconds=1"})
    f = _finding(r, "stuck-build", f"Server/{sid}")
    assert f is not None and r["settings"]["stuck-build.seconds"] == 1.0
    assert f["owner"] == "compute-agent@hv1" and "BUILD" in f["symptom"]
    bad = cloud.req("GET", "/diagnose/v1/doctor", params={"set": "nope=1"})
    assert bad.status_code == 400 and "stuck-build.seconds" in bad.json()["message"]
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(cloud.api.data_dir / "clouds.yaml"),
           "OS_CLOUD": "kumo"}
    cli = subprocess.run([KUMO, "doctor", "--set", "stuck-build.seconds=1", "--scope",
                          f"servers/{sid}"], env=env, capture_output=True, text=True,
                         timeout=60)
    cloud.start_agent("hv1", "198.18.0.11")
    assert cli.returncode == 1 and "stuck-build" in cli.stdout, cli.stderr
    cloud.wait("built", lambda: cloud.get(f"/compute/v2.1/servers/{sid}")["server"][
        "status"] == "ACTIVE")


def test_store_watcher_that_does_not_read(cloud: DoctorCloud) -> None:
    """A watch client that stops reading: its store watcher's queue grows (watch lag of
    the store's own watchers, not an agent's)."""
    host, port = cloud.base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    rv = cloud.native("hosts")["metadata"]["resourceVersion"]
    sock.sendall((f"GET /apis/kumo.io/v1/hosts?watch=1&resourceVersion={rv} HTTP/1.1\r\n"
                  f"Host: {host}\r\nX-Auth-Token: {cloud.token}\r\n\r\n").encode())
    try:
        big = "x" * 60_000
        merge = {"Content-Type": "application/merge-patch+json"}
        for i in range(120):  # ~7 MB of events for a client that reads none of them
            cloud.ok("PATCH", "/apis/kumo.io/v1/hosts/hv0", 200, headers=merge, json={
                "metadata": {"annotations": {"ops.example/blob": f"{i}{big}"}}})
        time.sleep(1.2)
        r = cloud.get("/diagnose/v1/doctor", params={"set": "store-watch-lag.seconds=1"})
        f = _finding(r, "store-watch-lag")
        assert f is not None, json.dumps(r["findings"])[:2000]
        w = f["chain"][0]["evidence"]["watcher"]
        assert w["kind"] == "Host" and w["queued"] > 0 and w["seconds"] >= 1
        assert "does not keep up" in f["rootCause"]
    finally:
        sock.close()
        cloud.ok("PATCH", "/apis/kumo.io/v1/hosts/hv0", 200, json={"metadata": {
            "annotations": {"ops.example/blob": None}}},
            headers={"Content-Type": "application/merge-patch+json"})
    cloud.wait("watcher gone", lambda: _finding(cloud.get(
        "/diagnose/v1/doctor", params={"set": "store-watch-lag.seconds=1"}),
        "store-watch-lag") is None)


def test_trace_json_shape(cloud: DoctorCloud) -> None:
    sid = _active(cloud, "hv0", "10.84.0.0/24")
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(cloud.api.data_dir / "clouds.yaml"),
           "OS_CLOUD": "kumo"}
    p = subprocess.run([KUMO, "trace", f"servers/{sid}", "-o", "json"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    tr = json.loads(p.stdout)
    assert set(tr) == {"object", "steps", "waiting", "converged", "tracedAt"}
    assert set(tr["object"]) == {"kind", "name", "namespace", "resourceVersion", "state"}
    assert tr["object"]["kind"] == "Server" and tr["object"]["name"] == sid
    keys = {"component", "reason", "host", "object", "start", "end", "durationMs",
            "revision", "message", "type", "source", "atMs"}
    assert tr["steps"] and all(set(s) == keys for s in tr["steps"])
    assert all(isinstance(s["durationMs"], float | int) for s in tr["steps"])
    assert isinstance(tr["waiting"], list) and tr["converged"] is (not tr["waiting"])
