"""A tenant's VM life, through the real `openstack` CLI, on real QEMU guests."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from .vmhelpers import (
    BOOT_MARKER,
    admin_token,
    native_server,
    need_qemu,
    pid_alive,
    wait_for,
    wait_image_active,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_image_roundtrip_bytes_identical(cloud, tmp_path: Path) -> None:
    src = tmp_path / "blob.img"
    src.write_bytes(bytes(range(256)) * 4096 + b"tail")
    img = cloud.openstack("image", "create", "--file", str(src), "--disk-format", "raw",
                          "--container-format", "bare", "e2e-raw")
    assert img["status"] == "active"
    out = tmp_path / "back.img"
    cloud.openstack("image", "save", "--file", str(out), img["id"], json_out=False)
    assert filecmp.cmp(src, out, shallow=False)
    cloud.openstack("image", "delete", img["id"], json_out=False)


def test_server_lifecycle_on_qemu(cloud, tmp_path: Path) -> None:
    need_qemu()
    os_ = cloud.openstack
    wait_image_active(os_)
    os_("flavor", "create", "--vcpus", "1", "--ram", "128", "--disk", "1", "e2e.tiny")
    os_("keypair", "create", "--private-key", str(tmp_path / "k.pem"), "e2e-key")
    server = os_("server", "create", "--image", "kumo-tiny", "--flavor", "e2e.tiny",
                 "--nic", "none", "--key-name", "e2e-key", "--wait", "vm-e2e")
    assert server["status"] == "ACTIVE"
    sid = server["id"]

    def console() -> str:
        p = os_("console", "log", "show", sid, json_out=False, check=False)
        return p.stdout if BOOT_MARKER in p.stdout else ""

    log = wait_for("boot marker on the console", console, timeout=180)
    assert f"{BOOT_MARKER} vm-e2e none" in log or BOOT_MARKER in log

    token = admin_token(cloud.base_url, cloud.admin_password)
    project = os_("project", "show", "admin")["id"]
    native = native_server(cloud.base_url, token, project, sid)
    assert native is not None
    pid, host = native["status"]["pid"], native["spec"]["host"]
    assert pid_alive(pid)
    vm_dir = cloud.data_dir / "agent" / host / "vms" / sid
    assert vm_dir.exists()

    os_("server", "reboot", "--wait", sid, json_out=False)
    assert os_("server", "show", sid)["status"] == "ACTIVE"

    os_("server", "stop", sid, json_out=False)
    wait_for("SHUTOFF", lambda: os_("server", "show", sid)["status"] == "SHUTOFF", 60)
    assert not pid_alive(pid)
    os_("server", "start", sid, json_out=False)
    wait_for("ACTIVE again", lambda: os_("server", "show", sid)["status"] == "ACTIVE", 60)

    events = os_("server", "event", "list", sid)
    actions = {e["Action"] for e in events}
    assert {"create", "reboot", "stop", "start"} <= actions
    create_req = next(e["Request ID"] for e in events if e["Action"] == "create")
    detail = os_("server", "event", "show", sid, create_req)
    assert detail["events"], detail

    new_pid = native_server(cloud.base_url, token, project, sid)["status"]["pid"]
    os_("server", "delete", "--wait", sid, json_out=False)
    assert not pid_alive(new_pid)
    assert not vm_dir.exists()
    p = cloud.openstack("server", "show", sid, json_out=False, check=False)
    assert p.returncode != 0 and "No Server found" in (p.stderr + p.stdout)
