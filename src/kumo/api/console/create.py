"""Forms that create: a server (image, flavor, network, key pair, security group, user
data) and a network with its subnet. The API checks every field; a refusal re-renders
the form with the API's message and nothing is created."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from . import apicall
from .forms import posted
from .render import handler, page
from .resources import collection_page
from .session import context, session_token

MAX_USER_DATA = 65535
FIELD = 255


async def _choices(request: Request, token: str | None) -> dict[str, list[Any]]:
    images, flavors, networks, keypairs, secgroups = await asyncio.gather(
        apicall.ok(request, "GET", "/image/v2/images", token),
        apicall.ok(request, "GET", "/compute/v2.1/flavors", token),
        apicall.ok(request, "GET", "/network/v2.0/networks", token),
        apicall.ok(request, "GET", "/compute/v2.1/os-keypairs", token),
        apicall.ok(request, "GET", "/network/v2.0/security-groups", token))
    return {"images": images["images"], "flavors": flavors["flavors"],
            "networks": networks["networks"],
            "keypairs": [k["keypair"] for k in keypairs["keypairs"]],
            "secgroups": secgroups["security_groups"]}


@handler
async def new_server(request: Request) -> Response:
    ctx = await context(request)
    choices = await _choices(request, session_token(request))
    return page(request, "server_new.html", ctx, here="servers", choices=choices, form={},
                error=None)


def server_body(form: Any) -> dict[str, Any]:
    """The Nova create body of the form's fields (length-capped; the API judges them)."""
    f = {k: str(form.get(k) or "") for k in
         ("name", "image", "flavor", "network", "keypair", "secgroup", "user_data")}
    s: dict[str, Any] = {"name": f["name"][:FIELD + 1], "imageRef": f["image"][:64],
                         "flavorRef": f["flavor"][:64],
                         "networks": [{"uuid": f["network"][:64]}] if f["network"] else "auto"}
    if f["keypair"]:
        s["key_name"] = f["keypair"][:FIELD + 1]
    if f["secgroup"]:
        s["security_groups"] = [{"name": f["secgroup"][:FIELD + 1]}]
    if f["user_data"]:
        raw = f["user_data"].encode()[:MAX_USER_DATA + 1]
        s["user_data"] = base64.b64encode(raw).decode()
    return {"server": s}


@handler
async def create_server(request: Request) -> Response:
    form = await posted(request)
    ctx = await context(request)
    token = session_token(request)
    r = await apicall.call(request, "POST", "/compute/v2.1/servers", token,
                           json=server_body(form))
    if r.status_code >= 400:
        return page(request, "server_new.html", ctx, status=r.status_code, here="servers",
                    choices=await _choices(request, token), form=dict(form),
                    error=apicall.message_of(r))
    sid = r.json()["server"]["id"]
    return RedirectResponse(f"/console/servers/{sid}", status_code=303)


@handler
async def create_network(request: Request) -> Response:
    """A network and (when a CIDR is given) its subnet; a refused subnet removes the
    network again, so a bad form leaves nothing behind."""
    form = await posted(request)
    ctx = await context(request)
    token = session_token(request)
    name, cidr = str(form.get("name") or "")[:FIELD + 1], str(form.get("cidr") or "")[:64]
    net = await apicall.call(request, "POST", "/network/v2.0/networks", token,
                             json={"network": {"name": name}})
    err = None if net.status_code < 400 else (net.status_code, apicall.message_of(net))
    if err is None and cidr:
        nid = net.json()["network"]["id"]
        sub = await apicall.call(request, "POST", "/network/v2.0/subnets", token, json={
            "subnet": {"network_id": nid, "cidr": cidr, "ip_version": 4,
                       "name": f"{name}-subnet"[:FIELD]}})
        if sub.status_code >= 400:
            err = (sub.status_code, apicall.message_of(sub))
            await apicall.call(request, "DELETE", f"/network/v2.0/networks/{nid}", token)
    if err is not None:
        return await collection_page(request, ctx, "networks", status=err[0], error=err[1],
                                     form={"name": name, "cidr": cidr})
    return RedirectResponse("/console/list/networks", status_code=303)
