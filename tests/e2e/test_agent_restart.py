"""Split roles: `kumo api` + `kumo agent`; killing the agent leaves VMs running,
and the restarted agent adopts them (same PID, still ACTIVE, still controllable).
Likewise the metadata proxy keeps answering guests while the agent is down, and the
restarted agent adopts it instead of starting a second one."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ..conftest import LiveCloud, free_port
from ..multihost import MultiHostFactory, delete_netns, processes_matching
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


def guest_get(ns: str, path: str) -> dict | None:
    """GET http://169.254.169.254<path> from inside the guest namespace (None on failure)."""
    code = ("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
            f"'http://169.254.169.254{path}', timeout=5).read().decode())")
    p = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code],
                       capture_output=True, text=True, timeout=30)
    return json.loads(p.stdout) if p.returncode == 0 else None


def plug_guest(host_ns: str, guest_ns: str, bridge: str, mac: str, cidr: str) -> None:
    """A fake guest: a namespace on the tenant bridge with the port's MAC and address."""
    host_if = f"kgv{secrets.token_hex(3)}"
    for argv in (["ip", "netns", "add", guest_ns],
                 ["ip", "-n", host_ns, "link", "add", host_if, "type", "veth", "peer", "name",
                  "eth0", "netns", guest_ns],
                 ["ip", "-n", host_ns, "link", "set", host_if, "master", bridge, "up"],
                 ["ip", "-n", guest_ns, "link", "set", "eth0", "address", mac, "up"],
                 ["ip", "-n", guest_ns, "addr", "add", cidr, "dev", "eth0"],
                 ["ip", "-n", guest_ns, "route", "add", "169.254.169.254/32", "dev", "eth0"]):
        subprocess.run(argv, check=True, capture_output=True)


def test_metadata_answers_while_the_agent_is_down(multihost: MultiHostFactory,
                                                  tmp_path: Path) -> None:
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq not installed")
    guest = f"kg-{secrets.token_hex(3)}"
    with multihost(1, driver="fake", net_driver="linux") as mh:
        try:
            os_ = mh.openstack
            net = os_("network", "create", "md-net")
            os_("subnet", "create", "--network", net["id"], "--subnet-range", "10.40.0.0/24",
                "md-sub")
            port = os_("port", "create", "--network", net["id"], "--fixed-ip",
                       "ip-address=10.40.0.50", "md-port")
            disk = tmp_path / "disk.raw"
            disk.write_bytes(b"\0" * 65536)
            img = os_("image", "create", "--file", str(disk), "--disk-format", "raw",
                      "--container-format", "bare", "md-disk")
            sid = os_("server", "create", "--image", img["id"], "--flavor", "m1.nano",
                      "--nic", f"port-id={port['id']}", "--wait", "md-vm")["id"]
            vni = os_("network", "show", net["id"])["provider:segmentation_id"]
            plug_guest(mh.host_ns(1), guest, f"kbr-{vni}", port["mac_address"],
                       "10.40.0.50/24")
            meta = wait_for("metadata through the proxy", lambda: guest_get(
                guest, "/openstack/latest/meta_data.json"), timeout=60)
            assert meta["uuid"] == sid and meta["name"] == "md-vm"
            pidfile = mh.state_dir(1) / "dhcp" / net["id"] / "metadata-proxy.pid"
            proxy = int(pidfile.read_text().split()[0])

            mh.kill_agent(1)  # SIGKILL
            assert mh.agent_pid(1) is None and pid_alive(proxy)
            down = guest_get(guest, "/openstack/latest/meta_data.json")
            assert down is not None and down["uuid"] == sid, "metadata must outlive the agent"

            mh.start_agent(1)
            state_cmd = [sys.executable, "-c", "import sys, urllib.request; sys.stdout.write("
                         f"urllib.request.urlopen('http://{mh.underlay_ip(1)}:9774/debug/state')"
                         ".read().decode())"]
            wait_for("the restarted agent synced its DHCP services", lambda: net["id"] in (
                json.loads(mh.exec_in(1, state_cmd).stdout)["network"]["metadata_proxies"]),
                timeout=60)
            assert int(pidfile.read_text().split()[0]) == proxy  # adopted, not restarted
            assert [p for p, _ in processes_matching(str(pidfile))] == [proxy]
            assert guest_get(guest, "/openstack/latest/meta_data.json")["uuid"] == sid
        finally:
            delete_netns(guest)
