"""Every route of every face, from the Starlette apps ``build_app`` mounts, and how to
call one: a concrete path (seeded ids), a body, headers.

Native routes name a kind by ``{plural}``: they are expanded to every registered kind
of the right scope, so a new kind is in the matrix as soon as it is registered.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.routing import Mount, Route

from kumo.api.app import build_app
from kumo.model import registry

from .seed import Seed

NATIVE = "/apis/kumo.io/v1"


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for r in routes:
        if isinstance(r, Mount):
            sub = getattr(r.app, "routes", None)
            assert sub is not None, f"mounted app at {prefix + r.path} has no route table"
            yield from _walk(sub, prefix + r.path)
        elif isinstance(r, Route):
            for method in sorted(r.methods or ()):
                if method != "HEAD":
                    yield method, prefix + r.path
        else:
            raise AssertionError(f"unknown route type {r!r}")


def route_table() -> list[tuple[str, str]]:
    """(method, template) of every route, native ones per kind (``{plural}`` filled)."""
    app = build_app(None)  # type: ignore[arg-type]  # the runtime is read per request
    out: list[tuple[str, str]] = []
    for method, path in _walk(app.app.routes):  # type: ignore[attr-defined]
        if "{plural}" not in path:
            out.append((method, path))
            continue
        namespaced = "{namespace}" in path
        for info in registry.all_kinds():
            if info.namespaced == namespaced:
                filled = path.replace("{plural}", info.plural).replace("{sub:str}", "status")
                out.append((method, filled))
    return out


@dataclass
class Call:
    method: str
    path: str
    body: Any = None
    headers: dict[str, str] | None = None
    content: bytes | None = None
    cleanup: tuple[str, str, str] | None = None  # (kind, namespace, name) to delete after


class Filler:
    """Turns a template into a call; fresh objects for every write."""

    def __init__(self, seed: Seed) -> None:
        self.seed = seed

    async def call(self, method: str, template: str, caller: str) -> Call:
        # console posts are refused (CSRF) before they touch anything: no fresh objects
        write = method != "GET" and not template.startswith("/console/")
        if template.startswith(NATIVE + "/"):
            return await self._native(method, template, write)
        self._method = method
        if template.startswith("/load-balancer/"):
            from tests.loadbalancer import authz_seed

            self._lb = await authz_seed.tree(self.seed) if write else self.seed.lb
        path = await self._path(template, write)
        body = await self._body(method, template, caller)
        headers: dict[str, str] = {}
        content = None
        if template.startswith("/compute"):
            headers["OpenStack-API-Version"] = "compute " + (
                "2.87" if template.endswith("/statistics") else "2.100")
        if template == "/v3/auth/tokens":
            headers["X-Subject-Token"] = self._subject(caller, method == "DELETE")
        if method == "PATCH" and template.startswith("/image"):
            headers["Content-Type"] = "application/openstack-images-v2.1-json-patch"
            content, body = json.dumps(body).encode(), None
        if method == "POST" and template == "/dns/v2/zones/tasks/imports":
            headers["Content-Type"] = "text/dns"
            content, body = self.seed.zone_file().encode(), None
        if method == "PUT" and template.endswith(("/file", "/stage")):
            headers["Content-Type"] = "application/octet-stream"
            content, body = b"x" * 512, None
        return Call(method, path, body, headers, content)

    def _subject(self, caller: str, fresh: bool) -> str:
        who = self.seed.who[caller]
        if who is None:
            return self.seed.owner.token
        if not fresh:
            return who.token
        return self.seed.cloud.rt.tokens.issue(who.user_id, methods=["password"],
                                               project_id=who.project_id)

    async def _param(self, template: str, name: str, write: bool) -> str:  # noqa: C901, PLR0911, PLR0912
        s, ids = self.seed, self.seed.ids
        if template.startswith("/load-balancer/") and name in self._lb:
            return self._lb[name]
        if "/metadefs/" in template and name in ("ns", "name"):
            return await self._metadef(template, name, write)
        if name == "server_id":
            return await s.server() if write else ids["server"]
        if name == "port_id" and "/os-interface/" in template:
            if not write:
                return ids["server_port"]
            sid = self._last_server
            return await s.attached(sid)
        if name == "port_id":
            return await s.port() if write else ids["port"]
        if name == "network_id":
            return await s.network() if write else ids["network"]
        if name == "router_id":
            if not write:
                return ids["router"]
            return await s.router(interface=self._method != "DELETE")
        if name == "fip_key":  # Designate's <region>:<floating ip id>
            return f"RegionOne:{ids['floatingip']}"
        if name in ("floatingip_id", "floating_ip_id"):
            return await s.floatingip() if write else ids["floatingip"]
        if name == "rbac_id":
            return await s.rbac() if write else ids["rbac"]
        if name == "address_scope_id":
            return await s.address_scope() if write else ids["address_scope"]
        if name == "subnetpool_id":
            return await s.subnetpool() if write else ids["subnetpool"]
        if name == "subnet_id":
            return await s.subnet() if write else ids["subnet"]
        if name == "group_id" and template.startswith("/compute"):
            return await s.server_group() if write else ids["server_group"]
        if name == "group_id":
            return await s.secgroup() if write else ids["secgroup"]
        if name == "rule_id":
            return await s.rule() if write else ids["rule"]
        if name == "image_id" and "/actions/" in template:
            return await s.image(active=True)
        if name == "image_id":
            return await s.image() if write else ids["image"]
        if name == "flavor_id":
            return await s.flavor() if write else ids["flavor"]
        if name == "name" and "os-keypairs" in template:
            return await s.keypair() if write else ids["keypair"]
        if name == "service_id":
            return await s.host()
        if name == "cred":
            return await s.app_cred() if write else ids["app_cred"]
        if name == "id":
            return await self._identity_id(template, write)
        if name == "implied" and write:  # a fresh role; a rule to remove for DELETE
            rid = await s.identity("roles")
            if self._method == "DELETE":
                await s.keystone("PUT", f"/roles/{ids['role']}/implies/{rid}", s.admin, 201)
            return rid
        if name == "rule":
            return await s.access_rule() if write else ids["access_rule"]
        if name in ("prior", "implied", "user", "access"):
            return {"prior": ids["role"], "implied": ids["reader_role"],
                    "user": s.owner.user_id, "access": "unknown"}[name]
        if name == "zone_id":
            self._zone = await s.zone() if write and "/recordsets/" not in template \
                and not (self._method == "POST") else ids["zone"]
            return self._zone
        if name == "item_id":
            kind = template.split("/")[3]
            return await s.dns_admin(kind) if write else ids[kind]
        if name == "pool_id":
            return "794ccc2c-d751-44fe-b57f-8894c9f5c842"
        if name == "status_id":
            return str(uuid.uuid5(uuid.UUID("794ccc2c-d751-44fe-b57f-8894c9f5c842"),
                                  "service:api"))
        if name == "share_id":
            return await s.share(self._zone)
        if name == "task_id":
            return await s.task_id(template, write)
        if name == "recordset_id":
            return await s.recordset() if write else ids["recordset"]
        simple = {"key": "k", "tag": "t", "request_id": ids["request"],
                  "project_id": s.owner.project_id, "hypervisor_id": ids["hypervisor"],
                  "aggregate_id": ids["aggregate"], "agent_id": ids["agent"],
                  "alias": "quotas", "name": "image", "task_id": "no-such-task",
                  "group": "identity", "option": "driver", "project": s.owner.project_id, "action": "deactivate",
                  "member_id": self._other_project, "version": "latest",
                  "leaf": "meta_data.json", "rest:path": "meta-data/",
                  "collection": "networks", "scopes:str": "projects",
                  "scope": s.owner.project_id, "actors:str": "users", "role": ids["role"],
                  "kind": "servers", "object_id": ids["server"]}
        if name == "resource_id":
            return await s.network() if write else ids["network"]
        if name == "actor":
            if not write:
                return s.owner.user_id
            uid = await s.identity("users")
            if self._method == "DELETE":  # a grant to revoke
                await s.keystone("PUT", f"/projects/{s.owner.project_id}/users/{uid}/roles/"
                                 f"{ids['role']}", s.admin, 204)
            return uid
        assert name in simple, f"no value for path parameter {{{name}}} in {template}"
        return simple[name]

    async def _metadef(self, template: str, name: str, write: bool) -> str:
        s = self.seed
        if name == "ns":
            return await s.metadef() if write else s.ids["metadef"]
        if "/schemas/" in template:
            return "namespace"
        part = template.split("/")[-2]
        if part == "resource_types":
            return "OS::Glance::Image"
        if self._method == "POST":
            return new_name()
        return {"objects": "o", "properties": "p", "tags": "t"}[part]

    @property
    def _other_project(self) -> str:
        other = self.seed.who["other_member"]
        assert other is not None
        return other.project_id

    async def _identity_id(self, template: str, write: bool) -> str:
        s, ids = self.seed, self.seed.ids
        coll = template.split("/")[2]
        if coll == "users" and ("/password" in template or "/application_credentials" in template
                                or "/OS-EC2" in template or "/access_rules" in template
                                or not write):
            return s.owner.user_id
        if coll in ("users", "projects", "groups", "domains", "roles") and write:
            return await s.identity(coll)
        if coll == "projects" and "/tags" in template:
            return await s.identity(coll)
        if coll == "regions" and self._method == "PUT":
            return new_name()
        if coll in ("services", "endpoints", "regions", "credentials") and write:
            return await s.catalog_obj(coll)
        if coll == "credentials":
            return ids["credential"]
        if coll == "policies":
            return await s.catalog_obj(coll) if write else ids["policy"]
        if coll == "OS-EP-FILTER":
            return await s.catalog_obj("endpoint_groups") if write else ids["endpoint_group"]
        if coll == "OS-TRUST":
            return await s.trust() if write else ids["trust"]
        return {"domains": "default", "projects": s.owner.project_id, "groups": ids["groups"],
                "roles": ids["role"], "services": ids["services"],
                "endpoints": ids["endpoints"], "regions": ids["regions"]}[coll]

    async def _path(self, template: str, write: bool) -> str:
        out, rest = "", template
        self._last_server = ""
        while "{" in rest:
            head, tail = rest.split("{", 1)
            name, rest = tail.split("}", 1)
            value = await self._param(template, name, write)
            if name == "server_id":
                self._last_server = value
            out += head + value
        return out + rest

    async def _body(self, method: str, template: str, caller: str) -> Any:
        from .bodies import body_for

        return await body_for(self, method, template, caller)

    async def _native(self, method: str, template: str, write: bool) -> Call:
        from .bodies import native_call

        return await native_call(self.seed, method, template, write)


def new_name() -> str:
    return f"authz-{uuid.uuid4().hex[:10]}"
