"""Flavor extra specs (/flavors/{id}/os-extra_specs): a dict in Flavor.spec.extraSpecs.

Readable by whoever may see the flavor, writable by admins. Values are kept as
strings (numbers and booleans are converted, as Nova's database does). Servers
keep the extra specs of their flavor as it was at boot.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.model import compute as cm

from ...runtime import runtime
from .common import (
    bad,
    body_of_any,
    caller,
    mutate,
    not_found,
    require_admin,
)
from .flavors import _visible, flavor_not_found

Obj = dict[str, Any]
_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")


def _checked(specs: Any, root: str) -> dict[str, str]:
    if not isinstance(specs, dict):
        raise bad(f"Invalid input for field/attribute {root}. Value: {specs}. "
                  f"{specs!r} is not of type 'object'")
    out: dict[str, str] = {}
    for key, value in specs.items():
        if not _KEY.match(key):
            raise bad(f"Invalid input for field/attribute {root}. Value: {specs}. Additional "
                      f"properties are not allowed ('{key}' was unexpected)")
        if not isinstance(value, str | int | float | bool):
            raise bad(f"Invalid input for field/attribute {key}. Value: {value}. "
                      f"{value!r} is not of type 'string', 'number', 'boolean'")
        text = str(value)
        if len(text) > 255:
            raise bad(f"extra_specs value has a length greater than 255 characters: {text[:40]}")
        out[key] = text
    return out


async def index(request: Request) -> Response:
    ctx = await caller(request)
    flavor = await _visible(request, ctx, request.path_params["flavor_id"])
    return JSONResponse({"extra_specs": dict(flavor["spec"].get("extraSpecs") or {})})


async def show(request: Request) -> Response:
    ctx = await caller(request)
    fid, key = request.path_params["flavor_id"], request.path_params["key"]
    specs = (await _visible(request, ctx, fid))["spec"].get("extraSpecs") or {}
    if key not in specs:
        raise not_found(f"Flavor {fid} has no extra specs with key {key}.")
    return JSONResponse({key: specs[key]})


async def _merge(request: Request, fid: str, new: dict[str, str]) -> None:
    def change(obj: Obj) -> None:
        obj["spec"]["extraSpecs"] = {**(obj["spec"].get("extraSpecs") or {}), **new}

    await mutate(runtime(request).objects, cm.FLAVOR, "", fid, change, flavor_not_found(fid))


async def create(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-flavor-extra-specs:create")
    fid = request.path_params["flavor_id"]
    data = await body_of_any(request)
    if set(data) != {"extra_specs"}:
        raise bad("Invalid input for field/attribute extra_specs. Value: {...}. "
                  "'extra_specs' is a required property")
    await _merge(request, fid, _checked(data["extra_specs"], "extra_specs"))
    return JSONResponse(data)


async def update(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-flavor-extra-specs:update")
    fid, key = request.path_params["flavor_id"], request.path_params["key"]
    data = await body_of_any(request)
    if len(data) > 1:
        raise bad("Request body contains too many items")
    if key not in data:
        raise bad("Request body and URI mismatch")
    await _merge(request, fid, _checked(data, key))
    return JSONResponse(data)


async def delete(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-flavor-extra-specs:delete")
    fid, key = request.path_params["flavor_id"], request.path_params["key"]

    def change(obj: Obj) -> None:
        specs = dict(obj["spec"].get("extraSpecs") or {})
        if key not in specs:
            raise not_found(f"Flavor {fid} has no extra specs with key {key}.")
        del specs[key]
        obj["spec"]["extraSpecs"] = specs

    await mutate(runtime(request).objects, cm.FLAVOR, "", fid, change, flavor_not_found(fid))
    return Response(status_code=202)
