"""In-process Glance fixtures: a runtime on a temp store, the image app at /image, tokens."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from kumo import store
from kumo.api.app import ObservabilityMiddleware
from kumo.api.auth import TokenManager, load_or_create_key
from kumo.api.openstack.image import app as image
from kumo.api.openstack.image import data as image_data
from kumo.api.runtime import Runtime
from kumo.config import Config
from kumo.model import identity as m

JSON = {"Content-Type": "application/json"}
PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
OCTET = {"Content-Type": "application/octet-stream"}


async def open_test_runtime(data_dir: Path) -> Runtime:
    """The lead's open_runtime when identity bootstrap exists, else a minimal equivalent."""
    config = Config(data_dir=data_dir, listen="127.0.0.1:1")
    try:
        from kumo.api.openstack import identity_bootstrap  # noqa: F401
    except ImportError:
        pass
    else:
        from kumo.server import open_runtime

        return await open_runtime(config)
    data_dir.mkdir(parents=True, exist_ok=True)
    objects = await store.open_sqlite(str(config.store_path))
    rt = Runtime(config=config, objects=objects,
                 tokens=TokenManager(objects, load_or_create_key(data_dir)))
    await objects.create(m.obj(m.DOMAIN, m.DEFAULT_DOMAIN_ID,
                               {"name": "Default", "enabled": True}, {"name": "Default"}))
    for role in ("admin", "member", "reader"):
        await objects.create(m.obj(m.ROLE, m.new_id(), {"name": role}, {"name": role}))
    await objects.create(m.obj(m.PROJECT, m.new_id(), {
        "name": "admin", "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True},
        {"name": "admin", "domain": m.DEFAULT_DOMAIN_ID}))
    return rt


@dataclass
class Glance:
    rt: Runtime
    client: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)

    async def project(self, name: str) -> str:
        pid = m.new_id()
        await self.rt.objects.create(m.obj(m.PROJECT, pid, {
            "name": name, "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True},
            {"name": name, "domain": m.DEFAULT_DOMAIN_ID}))
        return pid

    async def admin_project(self) -> str:
        found = await self.rt.objects.list(m.PROJECT, "", label_selector="name=admin")
        return found.items[0]["metadata"]["name"]

    async def token(self, project_id: str, role: str = "member") -> str:
        uid = m.new_id()
        await self.rt.objects.create(m.obj(m.USER, uid, {
            "name": f"u-{uid[:8]}", "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True},
            {"name": f"u-{uid[:8]}", "domain": m.DEFAULT_DOMAIN_ID}))
        roles = await self.rt.objects.list(m.ROLE, "", label_selector=f"name={role}")
        rid = roles.items[0]["metadata"]["name"]
        await self.rt.objects.create(m.obj(
            m.ROLE_ASSIGNMENT, m.assignment_name("project", project_id, "user", uid, rid),
            {"userId": uid, "projectId": project_id, "roleId": rid},
            {"user": uid, "project": project_id, "role": rid}))
        return self.rt.tokens.issue(uid, methods=["password"], project_id=project_id)

    async def admin_token(self) -> str:
        return await self.token(await self.admin_project(), "admin")

    def request(self, method: str, path: str, token: str | None, **kw: Any
                ) -> Any:
        headers = dict(kw.pop("headers", {}) or {})
        if token:
            headers["X-Auth-Token"] = token
        return self.client.request(method, "/image" + path, headers=headers, **kw)

    async def create(self, token: str, **body: Any) -> dict[str, Any]:
        body.setdefault("disk_format", "raw")
        body.setdefault("container_format", "bare")
        r = await self.request("POST", "/v2/images", token, json=body)
        assert r.status_code == 201, r.text
        return r.json()

    async def upload(self, token: str, image_id: str, data: Any, **headers: str
                     ) -> httpx.Response:
        return await self.request("PUT", f"/v2/images/{image_id}/file", token,
                                  content=data, headers={**OCTET, **headers})

    async def show(self, token: str, image_id: str) -> dict[str, Any]:
        r = await self.request("GET", f"/v2/images/{image_id}", token)
        assert r.status_code == 200, r.text
        return r.json()

    async def patch(self, token: str, image_id: str, ops: list[dict[str, Any]],
                    content_type: str = PATCH["Content-Type"]) -> httpx.Response:
        return await self.request("PATCH", f"/v2/images/{image_id}", token, json=ops,
                                  headers={"Content-Type": content_type})

    def blob_files(self) -> list[Path]:
        root = self.rt.config.data_dir / "blobs"
        return sorted(p for p in root.glob("??/*") if p.is_file())

    def temp_files(self) -> list[Path]:
        return sorted((self.rt.config.data_dir / "blobs" / "tmp").glob("*"))


def digests(data: bytes) -> dict[str, str]:
    return {"md5": hashlib.md5(data).hexdigest(), "sha512": hashlib.sha512(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest()}


def build_image_app(rt: Runtime) -> ObservabilityMiddleware:
    return ObservabilityMiddleware(Starlette(routes=[Mount("/image", app=image.build_app())]), rt)


@pytest.fixture
async def glance(tmp_path: Path) -> AsyncIterator[Glance]:
    rt = await open_test_runtime(tmp_path / "data")
    transport = httpx.ASGITransport(app=build_image_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://kumo") as client:
        yield Glance(rt, client)
    image_data.close_blob_store(rt)
    await rt.objects.backend.close()


@pytest.fixture
async def member(glance: Glance) -> tuple[str, str]:
    """(project id, member token) of a fresh project."""
    pid = await glance.project("alpha")
    return pid, await glance.token(pid)
