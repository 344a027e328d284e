"""Read-only pages over the APIs: overview with quota usage, Neutron and Designate
collections, images, key pairs, and any object's Event timeline (``kumo trace``'s data)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import apicall
from .render import handler, page
from .session import context, session_token

# collection -> (API path, answer key, columns)
COLLECTIONS: dict[str, tuple[str, str, list[str]]] = {
    "networks": ("/network/v2.0/networks", "networks",
                 ["name", "id", "status", "subnets", "router:external", "shared"]),
    "subnets": ("/network/v2.0/subnets", "subnets",
                ["name", "id", "cidr", "gateway_ip", "network_id"]),
    "ports": ("/network/v2.0/ports", "ports",
              ["name", "id", "status", "mac_address", "fixed_ips", "device_owner"]),
    "routers": ("/network/v2.0/routers", "routers",
                ["name", "id", "status", "external_gateway_info"]),
    "floatingips": ("/network/v2.0/floatingips", "floatingips",
                    ["floating_ip_address", "id", "status", "fixed_ip_address", "port_id"]),
    "security-groups": ("/network/v2.0/security-groups", "security_groups",
                        ["name", "id", "description"]),
    "zones": ("/dns/v2/zones", "zones", ["name", "id", "status", "serial", "email", "ttl"]),
    "recordsets": ("/dns/v2/recordsets", "recordsets",
                   ["name", "id", "type", "records", "status", "zone_name"]),
}
TRACED = {"servers", "ports", "networks"}


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(v.get("ip_address", str(v)) if isinstance(v, dict) else str(v)
                         for v in value)
    if isinstance(value, dict):
        return value.get("network_id", "") or str(value)
    return "" if value is None else str(value)


@handler
async def overview(request: Request) -> Response:
    ctx = await context(request)
    token = session_token(request)
    nova, net, keystone = await asyncio.gather(  # three services, asked at once
        apicall.ok(request, "GET", "/compute/v2.1/limits", token),
        apicall.ok(request, "GET", f"/network/v2.0/quotas/{ctx.project_id}/details", token),
        apicall.ok(request, "GET", "/v3/auth/projects", token))
    projects = keystone["projects"]
    a = nova["limits"]["absolute"]
    usage = [("Instances", a["totalInstancesUsed"], a["maxTotalInstances"]),
             ("VCPUs", a["totalCoresUsed"], a["maxTotalCores"]),
             ("RAM (MB)", a["totalRAMUsed"], a["maxTotalRAMSize"])]
    for key, label in (("network", "Networks"), ("port", "Ports"), ("router", "Routers"),
                       ("floatingip", "Floating IPs"), ("security_group", "Security groups")):
        q = net["quota"].get(key)
        if q:
            usage.append((label, q["used"], q["limit"]))
    return page(request, "overview.html", ctx, here="overview", usage=usage,
                projects=sorted(projects, key=lambda p: p["name"]))


async def collection_page(request: Request, ctx: Any, name: str, *, status: int = 200,
                          error: str | None = None, form: dict | None = None) -> Response:
    path, key, cols = COLLECTIONS[name]
    items = (await apicall.ok(request, "GET", path, session_token(request)))[key]
    rows = [[_cell(i.get(c)) for c in cols] for i in items]
    return page(request, "collection.html", ctx, status=status, here=name, title=name,
                cols=cols, rows=rows, error=error, form=form or {},
                traced=name if name in TRACED else None)


@handler
async def collection(request: Request) -> Response:
    ctx = await context(request)
    name = request.path_params["collection"]
    if name not in COLLECTIONS:
        raise apicall.ApiFailed(404, f"No page for {name[:40]!r}.")
    return await collection_page(request, ctx, name)


@handler
async def images(request: Request) -> Response:
    ctx = await context(request)
    items = (await apicall.ok(request, "GET", "/image/v2/images",
                              session_token(request)))["images"]
    cols = ["name", "id", "status", "visibility", "disk_format", "size"]
    return page(request, "collection.html", ctx, here="images", title="images", cols=cols,
                rows=[[_cell(i.get(c)) for c in cols] for i in items], error=None, form={},
                traced=None)


@handler
async def keypairs(request: Request) -> Response:
    ctx = await context(request)
    items = (await apicall.ok(request, "GET", "/compute/v2.1/os-keypairs",
                              session_token(request)))["keypairs"]
    cols = ["name", "type", "fingerprint"]
    return page(request, "collection.html", ctx, here="keypairs", title="key pairs",
                cols=cols, rows=[[_cell(k["keypair"].get(c)) for c in cols] for k in items],
                error=None, form={}, traced=None)


@handler
async def timeline(request: Request) -> Response:
    ctx = await context(request)
    kind = apicall.segment(request.path_params["kind"])
    oid = apicall.segment(request.path_params["object_id"])
    tr = await apicall.ok(request, "GET", f"/diagnose/v1/trace/{kind}/{oid}",
                          session_token(request))
    return page(request, "timeline.html", ctx, here=kind, kind=kind, oid=oid, trace=tr)
