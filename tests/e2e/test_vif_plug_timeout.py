"""A port that is never plugged fails the build quickly, saying which port and host.

`kumo api` runs as a process; the host agent runs in this test process (the same
code as `kumo agent`) with the fake compute driver and an in-memory network
driver whose tap creation fails, as a host with a broken bridge setup would.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from ..conftest import free_port
from .test_agent_restart import ApiOnly
from .vmhelpers import wait_for

pytestmark = [pytest.mark.e2e]


def test_unplugged_port_errors_the_server_within_the_timeout(tmp_path: Path) -> None:
    from kumo.agent.main import Agent
    from kumo.client import ApiClient
    from kumo.drivers.fake import FakeDriver
    from kumo.drivers.fakenet import FakeNet
    from kumo.drivers.linuxnet import NetDriverError

    tmp = Path(tempfile.mkdtemp(prefix="kumo-vif-"))
    api = ApiOnly(tmp / "data", free_port())
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    try:
        api.start()
        creds = yaml.safe_load((api.data_dir / "service-credentials.yaml").read_text())
        creds["auth_url"] = api.base_url + "/v3"
        net = FakeNet()

        def broken_tap(name: str, bridge: str, mtu: int) -> bool:
            raise NetDriverError(f"cannot create {name}: device or resource busy")

        net.ensure_tap = broken_tap  # type: ignore[method-assign]

        async def run_agent() -> None:
            client = ApiClient(creds)
            agent = Agent(client, FakeDriver(), "hv-plug", tmp / "agent", net_driver=net,
                          net_options={"vif_plug_timeout": 2.0})
            task = asyncio.ensure_future(agent.run())
            await stop.wait()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await client.close()

        thread = threading.Thread(target=loop.run_until_complete, args=(run_agent(),))
        thread.start()
        os_ = api.openstack
        wait_for("host registered", lambda: os_("hypervisor", "list"), timeout=30)
        blob = tmp_path / "img"
        blob.write_bytes(b"\0" * 4096)
        img = os_("image", "create", "--file", str(blob), "--disk-format", "raw",
                  "--container-format", "bare", "vif-img")
        netw = os_("network", "create", "vif-net")
        os_("subnet", "create", "--network", netw["id"], "--subnet-range", "10.40.0.0/24",
            "vif-sub")
        t0 = time.monotonic()
        server = os_("server", "create", "--image", img["id"], "--flavor", "m1.nano",
                     "--nic", f"net-id={netw['id']}", "vif-vm")
        shown = wait_for("server in ERROR", lambda: (x := os_(
            "server", "show", server["id"]))["status"] == "ERROR" and x, timeout=60)
        elapsed = time.monotonic() - t0
        port = os_("port", "list", "--server", server["id"])[0]
        msg = shown["fault"]["message"]
        assert port["ID"] in msg and "hv-plug" in msg and "within 2 s" in msg, msg
        assert elapsed < 20, elapsed  # bounded by the plug timeout, never a 300 s wait
        events = os_("server", "event", "show", server["id"],
                     os_("server", "event", "list", server["id"])[0]["Request ID"])
        assert "VifPlugTimeout" in str(events), events
    finally:
        loop.call_soon_threadsafe(stop.set)
        if "thread" in locals():
            thread.join(timeout=15)
        api.stop()
        shutil.rmtree(tmp, ignore_errors=True)
