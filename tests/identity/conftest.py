"""In-process Keystone: the whole API app on a temp store, an ASGI client, an admin token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kumo.api.app import build_app
from kumo.api.runtime import Runtime
from kumo.config import Config
from kumo.model import identity as m
from kumo.server import open_runtime


@dataclass
class Keystone:
    rt: Runtime
    client: httpx.AsyncClient
    headers: dict[str, str]  # an admin token


@pytest.fixture
def keystone_config() -> dict[str, Any]:
    """Config overrides for the ``keystone`` fixture (a test module overrides this)."""
    return {}


@pytest.fixture
async def keystone(tmp_path: Path, keystone_config: dict[str, Any]) -> AsyncIterator[Keystone]:
    rt = await open_runtime(Config(data_dir=tmp_path / "data", listen="127.0.0.1:1",
                                   **keystone_config))
    admin = (await rt.objects.list(m.USER, "", label_selector="name=admin")).items[0]
    proj = (await rt.objects.list(m.PROJECT, "", label_selector="name=admin")).items[0]
    token = rt.tokens.issue(admin["metadata"]["name"], methods=["password"],
                            project_id=proj["metadata"]["name"])
    transport = httpx.ASGITransport(app=build_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://kumo") as client:
        yield Keystone(rt, client, {"X-Auth-Token": token})
    await rt.objects.backend.close()


async def make_user(ks: Keystone, name: str, password: str,
                    grants: dict[str, tuple[str, ...]] | None = None) -> str:
    """A user in the default domain with ``grants`` (project id -> role names); its id."""
    r = await ks.client.post("/v3/users", headers=ks.headers, json={"user": {
        "name": name, "password": password, "domain_id": "default"}})
    assert r.status_code == 201, r.text
    uid = r.json()["user"]["id"]
    roles = {x["name"]: x["id"] for x in (await ks.client.get(
        "/v3/roles", headers=ks.headers)).json()["roles"]}
    for pid, names in (grants or {}).items():
        for role in names:
            r = await ks.client.put(f"/v3/projects/{pid}/users/{uid}/roles/{roles[role]}",
                                    headers=ks.headers)
            assert r.status_code == 204, r.text
    return uid


async def make_project(ks: Keystone, name: str) -> str:
    r = await ks.client.post("/v3/projects", headers=ks.headers,
                             json={"project": {"name": name, "domain_id": "default"}})
    assert r.status_code == 201, r.text
    return r.json()["project"]["id"]


def password_auth(name: str, password: str, project_id: str | None = None) -> dict[str, Any]:
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": password}}}}
    if project_id:
        auth["scope"] = {"project": {"id": project_id}}
    return {"auth": auth}


async def login(client: httpx.AsyncClient, name: str, password: str,
                project_id: str | None = None) -> httpx.Response:
    return await client.post("/v3/auth/tokens", json=password_auth(name, password, project_id))
