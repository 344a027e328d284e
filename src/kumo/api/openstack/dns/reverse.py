"""/v2/reverse/floatingips: the PTR of a floating IP (``openstack ptr record …``).

An id is ``<region>:<floating ip id>``; PATCH sets ``ptrdname`` (null unsets it). The
records live in kumo's managed reverse zones (``kumo.core.dns_reverse``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import dns_reverse as rev
from kumo.model import dns as dm

from ...errors import ApiError
from ...runtime import runtime
from .common import base_url, body_of, caller, listing

Obj = dict[str, Any]


def _not_found(key: str) -> ApiError:
    return ApiError(404, f"Could not find FloatingIP {key}", reason="not_found")


async def _view(request: Request, fip: Obj) -> Obj:
    objects = runtime(request).objects
    address = fip["spec"]["floatingIpAddress"]
    key = f"{runtime(request).config.region}:{fip['metadata']['name']}"
    ptr = await rev.get_ptr(objects, address)
    status, action = "ACTIVE", "NONE"
    if ptr is not None:
        zone = await objects.try_get(dm.DNS_ZONE, rev.MANAGED, ptr["spec"]["zoneId"])
        st = (zone or {}).get("status") or {}
        if st.get("serial") != (zone or {}).get("spec", {}).get("serial"):
            status, action = "PENDING", "UPDATE"
        elif st.get("status") == "ERROR":
            status = "ERROR"
    spec = (ptr or {}).get("spec") or {}
    return {"id": key, "address": address,
            "ptrdname": (spec.get("records") or [None])[0],
            "description": spec.get("description"), "ttl": spec.get("ttl"),
            "status": status, "action": action,
            "links": {"self": f"{base_url(request)}/v2/reverse/floatingips/{key}"}}


async def _fip(request: Request) -> tuple[Any, Obj]:
    c = await caller(request)
    key = request.path_params["fip_key"]
    region, _, fip_id = key.partition(":")
    if region != runtime(request).config.region or not fip_id:
        raise _not_found(key)
    return c, await rev.floating_ip(runtime(request).objects, c.actor, fip_id)


async def index(request: Request) -> Response:
    c = await caller(request)
    fips = await rev.floating_ips(runtime(request).objects, c.actor)
    rows = [await _view(request, f) for f in fips]
    return listing(request, rows, "floatingips", ("ptrdname", "address"),
                   ("created_at", "id", "address", "ptrdname"))


async def show(request: Request) -> Response:
    _, fip = await _fip(request)
    return JSONResponse(await _view(request, fip))


async def update(request: Request) -> Response:
    c, fip = await _fip(request)
    c.actor.require_write("set_floatingip")
    body = await body_of(request)
    extra = sorted(set(body) - {"ptrdname", "description", "ttl"})
    if extra:
        raise ApiError(400, f"unknown attribute(s) {', '.join(extra)}",
                       reason="invalid_object")
    if "ptrdname" not in body:
        raise ApiError(400, "ptrdname is required", reason="invalid_object")
    objects = runtime(request).objects
    address = fip["spec"]["floatingIpAddress"]
    if body["ptrdname"] is None:
        await rev.unset_ptr(objects, address)
    else:
        await rev.set_ptr(objects, address, body["ptrdname"], body.get("ttl"),
                          body.get("description"))
    return JSONResponse(await _view(request, fip), status_code=202)
