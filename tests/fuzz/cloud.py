"""The fuzzed cloud: the real API app on a temp store, driven from synchronous Hypothesis
tests through one private event loop, with a seeded project whose ids feed the routes."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from starlette.routing import Mount, Route

from kumo.api.app import build_app
from kumo.config import Config
from kumo.model import identity as m
from kumo.model.image import IMAGE
from kumo.server import open_runtime

NOVA_VERSION = {"OpenStack-API-Version": "compute 2.100"}
PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def route_table(app: Any) -> list[tuple[str, str]]:
    """(method, path template) of every route of every face, HEAD left out."""
    out: list[tuple[str, str]] = []

    def walk(routes: Any, prefix: str) -> None:
        for r in routes:
            if isinstance(r, Mount):
                walk(r.routes, prefix + r.path)
            elif isinstance(r, Route):
                out.extend((meth, prefix + r.path) for meth in sorted(r.methods or ())
                           if meth != "HEAD")

    walk(app.app.routes, "")
    return out


@dataclass
class Stats:
    requests: int = 0
    by_class: dict[str, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    half_written: list[str] = field(default_factory=list)

    def count(self, status: int, what: str) -> None:
        self.requests += 1
        cls = f"{status // 100}xx"
        self.by_class[cls] = self.by_class.get(cls, 0) + 1
        if status >= 500 and len(self.server_errors) < 50:
            self.server_errors.append(what)


RECORDS_OF_REFUSALS = {"LoginFailures"}


@dataclass
class FuzzCloud:
    loop: asyncio.AbstractEventLoop
    rt: Any
    client: httpx.AsyncClient
    routes: list[tuple[str, str]]
    member: str = ""
    pool: dict[str, list[str]] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def keys(self) -> set[tuple[str, str, str]]:
        """Every stored key but the records a refusal is meant to leave (a failed login is
        counted: that is the lockout, not a half-written request)."""
        conn: sqlite3.Connection = self.rt.objects.backend._read()
        return {k for k in conn.execute("SELECT kind, ns, name FROM kv").fetchall()
                if k[0] not in RECORDS_OF_REFUSALS}

    def send(self, method: str, url: str, *, token: str | None, content: bytes | None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["X-Auth-Token"] = token
        if url.startswith("/compute"):
            hdrs = {**NOVA_VERSION, **hdrs}
        if content is not None:
            hdrs.setdefault("Content-Type", _content_type(url, method))

        async def go() -> httpx.Response:
            return await asyncio.wait_for(
                self.client.request(method, url, content=content, headers=hdrs), 20)

        return self.run(go())


def _content_type(url: str, method: str) -> str:
    if url.startswith("/image") and method == "PATCH":
        return "application/openstack-images-v2.1-json-patch"
    if url.startswith("/image") and url.endswith("/file"):
        return "application/octet-stream"
    if url.startswith("/apis") and method == "PATCH":
        return "application/merge-patch+json"
    return "application/json"


async def _seed(cloud: FuzzCloud) -> None:
    """A member of one project with one of each resource; their ids fill path params."""
    rt, c = cloud.rt, cloud.client
    pid = m.new_id()
    await rt.objects.create(m.obj(m.PROJECT, pid, {
        "name": "fuzz", "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True},
        {"name": "fuzz", "domain": m.DEFAULT_DOMAIN_ID}))
    uid = m.new_id()
    await rt.objects.create(m.obj(m.USER, uid, {
        "name": "fuzzer", "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True},
        {"name": "fuzzer", "domain": m.DEFAULT_DOMAIN_ID}))
    roles = await rt.objects.list(m.ROLE, "", label_selector="name=member")
    rid = roles.items[0]["metadata"]["name"]
    await rt.objects.create(m.obj(
        m.ROLE_ASSIGNMENT, m.assignment_name("project", pid, "user", uid, rid),
        {"userId": uid, "projectId": pid, "roleId": rid},
        {"user": uid, "project": pid, "role": rid}))
    tok = rt.tokens.issue(uid, methods=["password"], project_id=pid)
    cloud.member = tok
    h = {"X-Auth-Token": tok}

    async def made(method: str, url: str, body: Any, *path: str) -> str:
        hdrs = {**h, **(NOVA_VERSION if url.startswith("/compute") else {})}
        r = await c.request(method, url, json=body, headers=hdrs)
        assert r.status_code < 300, (url, r.text)
        out: Any = r.json()
        for p in path:
            out = out[p]
        return str(out)

    net = await made("POST", "/network/v2.0/networks", {"network": {"name": "n"}},
                     "network", "id")
    sub = await made("POST", "/network/v2.0/subnets", {"subnet": {
        "network_id": net, "cidr": "10.7.0.0/24", "ip_version": 4}}, "subnet", "id")
    port = await made("POST", "/network/v2.0/ports", {"port": {"network_id": net}},
                      "port", "id")
    sg = await made("POST", "/network/v2.0/security-groups",
                    {"security_group": {"name": "sg"}}, "security_group", "id")
    img = await made("POST", "/image/v2/images", {
        "name": "img", "disk_format": "qcow2", "container_format": "bare",
        "visibility": "shared"}, "id")
    pub = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    await made("POST", "/compute/v2.1/os-keypairs", {"keypair": {"name": "kp",
                                                                  "public_key": pub}},
               "keypair", "name")
    booted = str(uuid.uuid4())
    await rt.objects.create({"kind": IMAGE, "metadata": {"name": booted}, "spec": {
        "name": "tiny", "owner": pid, "visibility": "private", "diskFormat": "qcow2",
        "containerFormat": "bare", "minDisk": 0, "minRam": 0, "tags": [], "properties": {},
        "members": {}}, "status": {"state": "active", "size": 1 << 20, "checksum": "0" * 32}})
    server = await made("POST", "/compute/v2.1/servers", {"server": {
        "name": "vm", "imageRef": booted, "flavorRef": "42", "networks": "none"}},
        "server", "id")
    cm = await made("POST", f"/apis/kumo.io/v1/namespaces/{pid}/configmaps",
                    {"metadata": {"name": "cm1"}, "spec": {"data": {"k": "v"}}},
                    "metadata", "name")
    cloud.pool = {
        "namespace": [pid], "project_id": [pid], "scope": [pid], "id": [pid, uid, rid],
        "actor": [uid], "role": [rid], "plural": ["configmaps", "servers", "quotasets"],
        "name": [cm, "kp"], "sub": ["status"], "network_id": [net], "subnet_id": [sub],
        "port_id": [port], "group_id": [sg], "resource_id": [net, port, sg],
        "collection": ["networks", "ports", "subnets", "security-groups"],
        "image_id": [img, booted], "flavor_id": ["42"], "key": ["k"], "tag": ["t"],
        "member_id": [pid], "action": ["deactivate", "reactivate"],
        "scopes": ["projects", "domains"], "actors": ["users", "groups"],
        "version": ["latest"], "leaf": ["meta_data.json"], "rest": ["meta-data/"],
        "alias": ["tag"], "cred": ["x"], "server_id": [server], "request_id": [],
    }


def open_cloud(data_dir: Path) -> FuzzCloud:
    loop = asyncio.new_event_loop()
    rt = loop.run_until_complete(open_runtime(Config(data_dir=data_dir, listen="127.0.0.1:1")))
    app = build_app(rt)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://kumo")
    cloud = FuzzCloud(loop, rt, client, route_table(app))
    loop.run_until_complete(_seed(cloud))
    return cloud


def close_cloud(cloud: FuzzCloud) -> None:
    cloud.run(cloud.client.aclose())
    cloud.run(cloud.rt.objects.backend.close())

    async def drain() -> None:
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    cloud.run(drain())
    cloud.loop.close()


def fill(template: str, params: dict[str, str]) -> str:
    return PARAM.sub(lambda mt: params[mt.group(1)], template)


def param_names(template: str) -> list[str]:
    return PARAM.findall(template)
