"""In-process Nova fixtures: the real API app on a temp store, tenants, images, hosts.

No scheduler or agent runs here: tests play their part by writing
Server.status (and Host/Lease objects) straight into the store.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kumo import store
from kumo.api.runtime import Runtime
from kumo.model import compute as cm
from kumo.model import identity as m
from kumo.model.image import IMAGE
from tests.inproc import in_process

LATEST = "2.100"


@dataclass
class Tenant:
    project_id: str
    user_id: str
    token: str


@dataclass
class Nova:
    rt: Runtime
    client: httpx.AsyncClient

    @property
    def objects(self) -> store.ObjectStore:
        return self.rt.objects

    # ---- identity --------------------------------------------------------
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

    # ---- HTTP --------------------------------------------------------------
    async def call(self, method: str, path: str, who: Tenant | None, *,
                   version: str | None = LATEST, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if who is not None:
            headers["X-Auth-Token"] = who.token
        if version is not None:
            headers["OpenStack-API-Version"] = f"compute {version}"
        return await self.client.request(method, "/compute" + path, headers=headers, **kw)

    async def ok(self, method: str, path: str, who: Tenant, status: int = 200, **kw: Any) -> Any:
        r = await self.call(method, path, who, **kw)
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    # ---- objects other components own -------------------------------------------
    async def image(self, owner: str, *, state: str = "active", visibility: str = "public",
                    min_disk: int = 0, min_ram: int = 0, size: int = 1 << 20,
                    members: dict[str, str] | None = None) -> str:
        iid = str(uuid.uuid4())
        await self.objects.create({"kind": IMAGE, "metadata": {"name": iid}, "spec": {
            "name": f"img-{iid[:6]}", "owner": owner, "visibility": visibility,
            "diskFormat": "qcow2", "containerFormat": "bare", "minDisk": min_disk,
            "minRam": min_ram, "tags": [], "properties": {"os_distro": "kumo-tiny"},
            "members": members or {}}, "status": {"state": state, "size": size,
                                                    "checksum": "0" * 32}})
        return iid

    async def host(self, name: str, *, az: str = "nova", alive: bool = True,
                   enabled: bool = True) -> dict[str, Any]:
        host = await self.objects.create({"kind": cm.HOST, "metadata": {"name": name}, "spec": {
            "enabled": enabled, "availabilityZone": az, "disabledReason": None},
            "status": {"capacity": {"vcpus": 8, "memoryMb": 16384, "diskGb": 100},
                       "hypervisorType": "QEMU", "cpuArch": "x86_64", "vtepIp": "198.18.0.2"}})
        await self.objects.create({"kind": cm.LEASE, "metadata": {"name": name}, "spec": {
            "holderIdentity": name, "leaseDurationSeconds": 30,
            "renewTime": time.time() if alive else time.time() - 300}})
        return host

    async def server_obj(self, project_id: str, sid: str) -> dict[str, Any] | None:
        return await self.objects.try_get(cm.SERVER, project_id, sid)

    async def servers(self, project_id: str) -> list[dict[str, Any]]:
        return (await self.objects.list(cm.SERVER, project_id)).items

    async def play_agent(self, project_id: str, sid: str, *, host: str | None = "node1",
                         finalizer: bool = True, observed: bool = True, **status: Any
                         ) -> dict[str, Any]:
        """Write what the scheduler (binding) and then the agent (status) would write."""
        if host:
            await self._write(project_id, sid, lambda new: self._bind(new, host, finalizer))

        def report(new: dict[str, Any]) -> None:
            base = {"vmState": "active", "taskState": None, "powerState": cm.RUNNING,
                    "launchedAt": store.now_iso(), "host": host, "hypervisorHostname": host}
            if observed:
                spec = new["spec"]
                base.update({"observedGeneration": int(new["metadata"].get("generation", 1)),
                             "observedRebootNonce": (spec.get("reboot") or {}).get("nonce", 0),
                             "observedRebuildNonce": (spec.get("rebuild") or {}).get("nonce",
                                                                                    0)})
            new.setdefault("status", {}).update({**base, **status})

        return await self._write(project_id, sid, report)

    @staticmethod
    def _bind(new: dict[str, Any], host: str, finalizer: bool) -> None:
        new["spec"]["host"] = host
        new["metadata"].setdefault("labels", {})[cm.HOST_LABEL] = host
        if finalizer and cm.AGENT_FINALIZER not in new["metadata"].get("finalizers", []):
            new["metadata"].setdefault("finalizers", []).append(cm.AGENT_FINALIZER)

    async def _write(self, project_id: str, sid: str, change: Any) -> dict[str, Any]:
        for _ in range(20):
            obj = await self.objects.get(cm.SERVER, project_id, sid)
            new = copy.deepcopy(obj)
            change(new)
            try:
                return await self.objects.update(new)
            except store.Conflict:
                continue
        raise AssertionError("could not write the server")

    async def release(self, project_id: str, sid: str) -> None:
        """The agent's last step: drop its finalizer so the deletion completes."""
        obj = await self.objects.get(cm.SERVER, project_id, sid)
        obj["metadata"]["finalizers"] = []
        await self.objects.update(obj)

    # ---- shortcuts -----------------------------------------------------------------
    async def boot(self, who: Tenant, image: str, *, flavor: str = "42", name: str = "vm",
                   version: str = LATEST, **extra: Any) -> str:
        server = {"name": name, "imageRef": image, "flavorRef": flavor, "networks": "none",
                  **extra}
        r = await self.call("POST", "/v2.1/servers", who, version=version,
                            json={"server": server})
        assert r.status_code == 202, r.text
        return r.json()["server"]["id"]

    async def active(self, who: Tenant, image: str, **kw: Any) -> str:
        sid = await self.boot(who, image, **kw)
        await self.play_agent(who.project_id, sid)
        return sid


@pytest.fixture
async def nova(tmp_path: Path) -> AsyncIterator[Nova]:
    async with in_process(Nova, tmp_path / "data") as harness:
        yield harness


@pytest.fixture
async def alice(nova: Nova) -> Tenant:
    return await nova.tenant("alpha")


@pytest.fixture
async def public_image(nova: Nova, alice: Tenant) -> str:
    admin_project = (await nova.objects.list(m.PROJECT, "", label_selector="name=admin"))
    return await nova.image(admin_project.items[0]["metadata"]["name"])
