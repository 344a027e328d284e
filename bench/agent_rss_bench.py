"""RSS of a standalone host agent (`kumo agent`, QEMU driver) with 10 running VMs.

Split roles: `kumo api` + `kumo agent` on loopback; boots 10 kumo-tiny VMs and
reads the agent's and the API server's RSS (QEMU processes are separate and
excluded). Cleans up every VM.
    .venv/bin/python bench/agent_rss_bench.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import free_port  # noqa: E402
from tests.e2e.test_agent_restart import ApiOnly, start_agent  # noqa: E402
from tests.e2e.vmhelpers import wait_for  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    from kumo.imagebuild import kumo_tiny

    tiny = kumo_tiny.ensure_built()
    tmp = Path(tempfile.mkdtemp(prefix="kumo-rss-"))
    api = ApiOnly(tmp / "data", free_port())
    agent = None
    try:
        api.start()
        agent = start_agent(api, tmp / "agent")
        os_ = api.openstack
        wait_for("host", lambda: os_("hypervisor", "list"), 30)
        idle = rss_mb(agent.pid)
        img = os_("image", "create", "--file", str(tiny.qcow2), "--disk-format", "qcow2",
                  "--container-format", "bare", "tiny")["id"]
        ids = [os_("server", "create", "--image", img, "--flavor", "m1.nano", "--nic", "none",
                   f"r{i}")["id"] for i in range(10)]
        wait_for("10 ACTIVE", lambda: sum(
            s["Status"] == "ACTIVE" for s in os_("server", "list")) == 10, 180)
        time.sleep(5)
        assert api.proc is not None
        print(f"kumo agent RSS: idle {idle:.0f} MB, with 10 running VMs "
              f"{rss_mb(agent.pid):.0f} MB (QEMU excluded)")
        print(f"kumo api RSS with 10 VMs on its agent: {rss_mb(api.proc.pid):.0f} MB")
        for sid in ids:
            os_("server", "delete", sid, json_out=False)
        wait_for("all deleted", lambda: not os_("server", "list"), 120)
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(10)
        api.stop()
        for pidfile in (tmp / "agent" / "vms").glob("*/qemu.pid"):
            import os
            import signal
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except (ValueError, OSError):
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
