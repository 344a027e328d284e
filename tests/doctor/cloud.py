"""A live test cloud for the doctor: a real ``kumo api`` process and N host agents (the
same code as ``kumo agent``) in one background thread, with the fake compute driver and
the in-memory network driver, so a test can damage a host's "kernel" (FakeNet) by hand
and watch the agent find, report and repair it. VTEPs are fake addresses in
198.18.0.0/15: FakeNet sends no packets.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from ..conftest import free_port
from ..e2e.test_agent_restart import ApiOnly
from ..e2e.vmhelpers import admin_token, wait_for


class DoctorCloud:
    def __init__(self, hosts: int = 2, resync: float = 1.0) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="kumo-doctor-"))
        self.api = ApiOnly(self.tmp / "data", free_port())
        self.n = hosts
        self.resync = resync
        self.loop = asyncio.new_event_loop()
        self.thread: threading.Thread | None = None
        self.agents: dict[str, Any] = {}
        self.tasks: dict[str, asyncio.Future[Any]] = {}
        self.nets: dict[str, Any] = {}
        self.http = httpx.Client(timeout=30)
        self.token = ""
        self.project = ""

    # ---- lifecycle ---------------------------------------------------------------
    def __enter__(self) -> DoctorCloud:
        self.api.start()
        self.base = self.api.base_url
        self.token = admin_token(self.base, self.api.admin_password)
        self.project = self.get("/v3/auth/tokens", headers={"X-Subject-Token": self.token}
                                )["token"]["project"]["id"]
        creds = yaml.safe_load((self.api.data_dir / "service-credentials.yaml").read_text())
        creds["auth_url"] = self.base + "/v3"
        self.creds = creds
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        for i in range(self.n):
            self.start_agent(f"hv{i}", f"198.18.0.{10 + i}")
        self.wait("agents registered", lambda: len(self.native("hosts")["items"]) == self.n)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in list(self.tasks):
            self.stop_agent(name)
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self.thread:
            self.thread.join(10)
        self.http.close()
        self.api.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_agent(self, name: str, vtep: str) -> None:
        from kumo.agent.main import Agent
        from kumo.client import ApiClient
        from kumo.drivers.fake import FakeDriver
        from kumo.drivers.fakenet import FakeNet

        net = self.nets.setdefault(name, FakeNet())

        async def make() -> Any:
            client = ApiClient(self.creds)
            agent = Agent(client, FakeDriver(), name, self.tmp / "agents" / name, vtep,
                          net_driver=net, net_options={"resync_interval": self.resync})
            self.agents[name] = agent
            return agent

        agent = asyncio.run_coroutine_threadsafe(make(), self.loop).result(10)
        self.tasks[name] = asyncio.run_coroutine_threadsafe(agent.run(), self.loop)

    def stop_agent(self, name: str) -> None:
        """Kill the agent (its tasks cancelled, its client closed); its 'kernel' stays."""
        fut = self.tasks.pop(name)
        fut.cancel()
        agent = self.agents.pop(name)

        async def close() -> None:
            await asyncio.sleep(0.05)
            await agent.api.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)

    def on_loop(self, fn: Callable[[], Any]) -> Any:
        async def call() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    # ---- HTTP ----------------------------------------------------------------------
    def req(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.token, **kw.pop("headers", {})}
        return self.http.request(method, self.base + path, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        r = self.req("GET", path, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def ok(self, method: str, path: str, status: int, **kw: Any) -> Any:
        r = self.req(method, path, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def native(self, plural: str, name: str = "", ns: str | None = None) -> Any:
        path = "/apis/kumo.io/v1/" + (f"namespaces/{ns}/" if ns else "") + plural
        return self.get(path + (f"/{name}" if name else ""))

    def doctor(self, scope: str | None = None) -> dict[str, Any]:
        return self.get("/diagnose/v1/doctor", params={"scope": scope} if scope else {})

    def trace(self, plural: str, oid: str) -> dict[str, Any]:
        return self.get(f"/diagnose/v1/trace/{plural}/{oid}")

    # ---- objects -------------------------------------------------------------------
    def network(self, cidr: str = "10.50.0.0/24") -> tuple[str, str]:
        net = self.ok("POST", "/network/v2.0/networks", 201, json={"network": {"name": "n"}})
        sub = self.ok("POST", "/network/v2.0/subnets", 201, json={"subnet": {
            "network_id": net["network"]["id"], "cidr": cidr, "ip_version": 4}})
        return net["network"]["id"], sub["subnet"]["id"]

    def bound_port(self, net: str, host: str) -> str:
        port = self.ok("POST", "/network/v2.0/ports", 201, json={"port": {
            "network_id": net, "binding:host_id": host}})["port"]
        return port["id"]

    def image(self) -> str:
        img = self.ok("POST", "/image/v2/images", 201, json={
            "name": "blob", "disk_format": "raw", "container_format": "bare"})
        self.ok("PUT", f"/image/v2/images/{img['id']}/file", 204, content=b"x" * 4096,
                headers={"Content-Type": "application/octet-stream"})
        return img["id"]

    def server(self, image: str, net: str, host: str | None = None) -> str:
        body: dict[str, Any] = {"name": "s", "imageRef": image, "flavorRef": "1",
                                "networks": [{"uuid": net}]}
        if host:
            body["availability_zone"] = f"nova:{host}"
        r = self.ok("POST", "/compute/v2.1/servers", 202, json={"server": body},
                    headers={"OpenStack-API-Version": "compute 2.74"})
        return r["server"]["id"]

    def port_status(self, pid: str) -> str:
        return self.get(f"/network/v2.0/ports/{pid}")["port"]["status"]

    def wait(self, what: str, cond: Callable[[], Any], timeout: float = 30) -> Any:
        return wait_for(what, cond, timeout, interval=0.2)


def hashed(project: str, host: str) -> str:
    return hashlib.sha224((project + host).encode()).hexdigest()[:12]
