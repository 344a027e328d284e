"""Split roles: `kumo api` + `kumo agent`; killing the agent leaves VMs running,
and the restarted agent adopts them (same PID, still ACTIVE, still controllable)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ..conftest import LiveCloud, free_port
from .vmhelpers import admin_token, native_server, need_qemu, pid_alive, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BIN = Path(sys.executable).parent


class ApiOnly(LiveCloud):
    def start(self, timeout: float = 30, extra_args: list[str] | None = None) -> None:
        log = open(self.log_path, "a")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(BIN / "kumo"), "api", "--data-dir", str(self.data_dir), "--listen",
             f"127.0.0.1:{self.port}"], stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if " ready at " in line:
                return
            if not line and self.proc.poll() is not None:
                raise RuntimeError(self.log_path.read_text()[-2000:])
        raise RuntimeError("kumo api not ready")


def start_agent(api: ApiOnly, state: Path) -> subprocess.Popen[bytes]:
    log = open(api.data_dir.parent / "agent.log", "a")  # noqa: SIM115
    return subprocess.Popen(
        [str(BIN / "kumo"), "agent", "--host", "hv1", "--api", api.base_url, "--credentials",
         str(api.data_dir / "service-credentials.yaml"), "--driver", "qemu",
         "--state-dir", str(state)], stdout=log, stderr=log)


def test_agent_restart_adopts_running_vms() -> None:
    need_qemu()
    from kumo.imagebuild import kumo_tiny

    tiny = kumo_tiny.ensure_built()
    tmp = Path(tempfile.mkdtemp(prefix="kumo-split-"))
    api = ApiOnly(tmp / "data", free_port())
    agent = None
    try:
        api.start()
        state = tmp / "agent"
        agent = start_agent(api, state)
        os_ = api.openstack
        wait_for("host registered", lambda: os_("hypervisor", "list"), 30)
        img = os_("image", "create", "--file", str(tiny.qcow2), "--disk-format", "qcow2",
                  "--container-format", "bare", "tiny-disk")
        sid = os_("server", "create", "--image", img["id"], "--flavor", "m1.nano",
                  "--nic", "none", "--wait", "survivor")["id"]
        token = admin_token(api.base_url, api.admin_password)
        project = os_("project", "show", "admin")["id"]
        pid = native_server(api.base_url, token, project, sid)["status"]["pid"]
        assert pid_alive(pid)

        agent.send_signal(signal.SIGKILL)
        agent.wait()
        time.sleep(1)
        assert pid_alive(pid), "the VM must outlive its agent"

        agent = start_agent(api, state)
        time.sleep(3)
        s = native_server(api.base_url, token, project, sid)
        assert s["status"]["pid"] == pid and s["status"]["vmState"] == "active"
        assert os_("server", "show", sid)["status"] == "ACTIVE"
        # adopted, not just left alone: the new agent can still drive it
        os_("server", "stop", sid, json_out=False)
        wait_for("SHUTOFF", lambda: os_("server", "show", sid)["status"] == "SHUTOFF", 60)
        assert not pid_alive(pid)
        os_("server", "delete", "--wait", sid, json_out=False)
        assert not (state / "vms" / sid).exists()
    finally:
        if agent is not None and agent.poll() is None:
            agent.terminate()
            agent.wait(10)
        api.stop()
        for d in (tmp / "agent" / "vms").glob("*"):
            pidfile = d / "qemu.pid"
            if pidfile.exists():
                try:
                    os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
                except (ValueError, ProcessLookupError):
                    pass
        shutil.rmtree(tmp, ignore_errors=True)
