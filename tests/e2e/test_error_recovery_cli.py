"""`openstack server reboot --hard` and `server rebuild` bring a server in ERROR back.

A live `kumo up` with the fake compute driver (no VM needed): the server is
booted, forced to ERROR through the native API (what a failed host leaves), and
the real `openstack` CLI asks for the recovery.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..conftest import LiveCloud, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fake_cloud() -> Iterator[LiveCloud]:
    tmp = Path(tempfile.mkdtemp(prefix="kumo-e2e-err-"))
    c = LiveCloud(tmp / "data", free_port(),
                  args=["--driver", "fake", "--net-driver", "fake", "--no-image"])
    try:
        c.start()
        yield c
    finally:
        c.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _wait(cloud: LiveCloud, sid: str, want: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.time() + timeout
    while True:
        s = cloud.openstack("server", "show", sid)
        if s["status"] == want:
            return s
        assert time.time() < deadline, f"{sid} is {s['status']}, not {want}"
        time.sleep(0.3)


def _force_error(cloud: LiveCloud, server: dict[str, Any]) -> None:
    token = cloud.openstack("token", "issue")["id"]
    path = (f"{cloud.base_url}/apis/kumo.io/v1/namespaces/{server['project_id']}/servers/"
            f"{server['id']}/status")
    r = httpx.patch(path, content=json.dumps({"status": {
        "vmState": "error", "taskState": None,
        "fault": {"code": 500, "message": "host failure", "created": "2026-01-01T00:00:00Z"}}}),
        headers={"X-Auth-Token": token, "Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    assert _wait(cloud, server["id"], "ERROR")["fault"]["message"] == "host failure"


def test_hard_reboot_and_rebuild_recover_error_server(fake_cloud: LiveCloud,
                                                      tmp_path: Path) -> None:
    os_ = fake_cloud.openstack
    blob = tmp_path / "disk.img"
    blob.write_bytes(b"\0" * 4096)
    image = os_("image", "create", "--file", str(blob), "--disk-format", "raw",
                "--container-format", "bare", "--public", "err-img")
    server = os_("server", "create", "--image", image["id"], "--flavor", "m1.nano",
                 "--nic", "none", "--wait", "vm-err")
    assert server["status"] == "ACTIVE"
    _force_error(fake_cloud, server)
    p = os_("server", "reboot", "--soft", server["id"], json_out=False, check=False)
    assert p.returncode != 0 and "vm_state error" in p.stderr  # Nova refuses a soft one

    os_("server", "reboot", "--hard", server["id"], json_out=False)
    shown = _wait(fake_cloud, server["id"], "ACTIVE")
    assert "fault" not in shown or not shown["fault"]
    events = {e["Action"] for e in os_("server", "event", "list", server["id"])}
    assert "reboot" in events

    _force_error(fake_cloud, server)
    os_("server", "rebuild", "--image", image["id"], server["id"], json_out=False)
    _wait(fake_cloud, server["id"], "ACTIVE")
    os_("server", "delete", "--wait", server["id"], json_out=False)
    os_("image", "delete", image["id"], json_out=False)
