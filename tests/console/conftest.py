"""The console against an in-process cloud (the quota tests' cloud: real API app, temp
store): users with passwords made through Keystone, a browser-like client per user."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest

from kumo.model import identity as m
from tests.quotas.conftest import Cloud, cloud

__all__ = ["cloud"]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Person:
    name: str
    password: str
    project_id: str
    user_id: str


async def person(cloud: Cloud, project: str, role: str = "member") -> Person:
    """A user with a password and ``role`` on a new project ``project``, via Keystone."""
    admin = await cloud.admin()
    pid = await cloud.project(f"{project}-{uuid.uuid4().hex[:6]}")
    name, pw = f"{project}-{uuid.uuid4().hex[:6]}", "s3cret-" + uuid.uuid4().hex
    r = await cloud.client.post("/v3/users", headers={"X-Auth-Token": admin.token}, json={
        "user": {"name": name, "password": pw, "domain_id": m.DEFAULT_DOMAIN_ID}})
    assert r.status_code == 201, r.text
    uid = r.json()["user"]["id"]
    roles = await cloud.objects.list(m.ROLE, "", label_selector=f"name={role}")
    rid = roles.items[0]["metadata"]["name"]
    r = await cloud.client.put(f"/v3/projects/{pid}/users/{uid}/roles/{rid}",
                               headers={"X-Auth-Token": admin.token})
    assert r.status_code == 204, r.text
    return Person(name, pw, pid, uid)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


async def browser(cloud: Cloud, who: Person) -> httpx.AsyncClient:
    """A cookie-keeping client logged in as ``who`` through the login form."""
    c = httpx.AsyncClient(transport=cloud.client._transport, base_url="http://kumo",
                          timeout=60)
    form = await c.get("/console/login")
    assert form.status_code == 200
    r = await c.post("/console/login", data={
        "csrf": csrf_of(form.text), "domain": "Default", "user": who.name,
        "password": who.password})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/console/"
    return c


@pytest.fixture
async def alice(cloud: Cloud) -> Person:
    return await person(cloud, "alice")
