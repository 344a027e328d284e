"""In-process Neutron fixtures: the real API app on a temp store, tenants by role.

No DHCP scheduler or agent runs here, so no network:dhcp ports appear unless a
test makes one (``kumo.core.ports.create_system_port``, as the scheduler does).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kumo import store
from kumo.api.runtime import Runtime
from kumo.model import identity as m
from tests.inproc import in_process


@dataclass
class Tenant:
    project_id: str
    user_id: str
    token: str


@dataclass
class Neutron:
    rt: Runtime
    client: httpx.AsyncClient

    @property
    def objects(self) -> store.ObjectStore:
        return self.rt.objects

    async def project(self, name: str) -> str:
        pid = m.new_id()
        await self.objects.create(m.obj(m.PROJECT, pid, {
            "name": name, "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True},
            {"name": name, "domain": m.DEFAULT_DOMAIN_ID}))
        return pid

    async def user(self, project_id: str, role: str = "member") -> Tenant:
        uid = m.new_id()
        await self.objects.create(m.obj(m.USER, uid, {
            "name": f"u-{uid[:8]}", "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True},
            {"name": f"u-{uid[:8]}", "domain": m.DEFAULT_DOMAIN_ID}))
        roles = await self.objects.list(m.ROLE, "", label_selector=f"name={role}")
        rid = roles.items[0]["metadata"]["name"]
        await self.objects.create(m.obj(
            m.ROLE_ASSIGNMENT, m.assignment_name("project", project_id, "user", uid, rid),
            {"userId": uid, "projectId": project_id, "roleId": rid},
            {"user": uid, "project": project_id, "role": rid}))
        tok = self.rt.tokens.issue(uid, methods=["password"], project_id=project_id)
        return Tenant(project_id, uid, tok)

    async def tenant(self, name: str = "alpha", role: str = "member") -> Tenant:
        return await self.user(await self.project(name), role)

    async def admin(self) -> Tenant:
        found = await self.objects.list(m.PROJECT, "", label_selector="name=admin")
        return await self.user(found.items[0]["metadata"]["name"], "admin")

    async def call(self, method: str, path: str, who: Tenant | None, **kw: Any
                   ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if who is not None:
            headers["X-Auth-Token"] = who.token
        return await self.client.request(method, "/network" + path, headers=headers, **kw)

    async def ok(self, method: str, path: str, who: Tenant, status: int = 200, **kw: Any
                 ) -> Any:
        r = await self.call(method, path, who, **kw)
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    async def fail(self, method: str, path: str, who: Tenant, status: int, typ: str,
                   **kw: Any) -> str:
        """Assert a Neutron error of ``status`` and ``typ``; its message."""
        r = await self.call(method, path, who, **kw)
        assert r.status_code == status, r.text
        body = r.json()["NeutronError"]
        assert body["type"] == typ, body
        assert set(body) == {"type", "message", "detail"}
        return body["message"]

    # ---- shortcuts -------------------------------------------------------------------
    async def network(self, who: Tenant, name: str = "net", **extra: Any) -> dict[str, Any]:
        body = await self.ok("POST", "/v2.0/networks", who, 201,
                             json={"network": {"name": name, **extra}})
        return body["network"]

    async def subnet(self, who: Tenant, net_id: str, cidr: str = "10.0.0.0/24",
                     **extra: Any) -> dict[str, Any]:
        body = await self.ok("POST", "/v2.0/subnets", who, 201, json={"subnet": {
            "network_id": net_id, "ip_version": 4, "cidr": cidr, **extra}})
        return body["subnet"]

    async def port(self, who: Tenant, net_id: str, **extra: Any) -> dict[str, Any]:
        body = await self.ok("POST", "/v2.0/ports", who, 201,
                             json={"port": {"network_id": net_id, **extra}})
        return body["port"]


async def until(what: str, check: Callable[[], Awaitable[Any]], timeout: float = 10) -> Any:
    """``check()``'s first truthy result; controllers converge in the background."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = await check()
        if got:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def neutron(tmp_path: Path) -> AsyncIterator[Neutron]:
    async with in_process(Neutron, tmp_path / "data") as harness:
        yield harness


@pytest.fixture
async def alice(neutron: Neutron) -> Tenant:
    return await neutron.tenant("alpha")


@pytest.fixture
async def bob(neutron: Neutron) -> Tenant:
    return await neutron.tenant("beta")


@pytest.fixture
async def admin(neutron: Neutron) -> Tenant:
    return await neutron.admin()
