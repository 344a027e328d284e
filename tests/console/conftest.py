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


async def sse(app, path: str, cookie: str, until) -> list[dict]:  # noqa: ANN001
    """Read a server-sent event stream straight off the ASGI app (httpx's ASGI transport
    buffers whole answers) until ``until(events)`` holds; then disconnect."""
    import asyncio
    import json

    events: list[dict] = []
    done = asyncio.Event()
    buf = b""

    async def receive() -> dict:
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(msg: dict) -> None:
        nonlocal buf
        if msg["type"] == "http.response.start":
            assert msg["status"] == 200, msg
        if msg["type"] == "http.response.body":
            buf += msg.get("body", b"")
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                for line in block.decode().splitlines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
            if until(events):
                done.set()

    path, _, query = path.partition("?")
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "root_path": "", "client": ("127.0.0.1", 1), "server": ("kumo", 80),
             "headers": [(b"host", b"kumo"), (b"accept", b"text/event-stream"),
                         (b"cookie", f"kumo_session={cookie}".encode())]}
    task = asyncio.create_task(app(scope, receive, send))
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        done.set()
        await asyncio.wait_for(task, 10)
    return events
