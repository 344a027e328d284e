"""Flavors: Flavor objects (cluster-scoped, name = flavor id), their access lists and
extra specs. Everyone lists what they may see (public flavors and private ones
shared with their project); only admins create, change or delete.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import compute as cm

from ...auth import AuthContext
from ...runtime import runtime
from .common import (
    bad,
    body_of,
    body_of_any,
    caller,
    conflict,
    index_and_detail,
    links,
    mutate,
    not_found,
    paginate,
    parse_model,
    project_exists,
    require_admin,
)
from .lookup import flavor_accessible
from .microversion import at_least
from .schemas import Description, Name

Obj = dict[str, Any]
MAX_INT = 2147483647
SORT_KEYS = {"created_at": lambda f: f["metadata"].get("creationTimestamp") or "",
             "description": lambda f: f["spec"].get("description") or "",
             "disabled": lambda f: False, "ephemeral_gb": lambda f: f["spec"].get("ephemeral", 0),
             "flavorid": lambda f: f["metadata"]["name"], "id": lambda f: f["metadata"]["name"],
             "is_public": lambda f: f["spec"].get("isPublic", True),
             "memory_mb": lambda f: f["spec"]["ram"], "name": lambda f: f["spec"]["name"],
             "root_gb": lambda f: f["spec"].get("disk", 0),
             "rxtx_factor": lambda f: f["spec"].get("rxtxFactor", 1.0),
             "swap": lambda f: f["spec"].get("swap", 0),
             "updated_at": lambda f: f["metadata"].get("creationTimestamp") or "",
             "vcpu_weight": lambda f: 0, "vcpus": lambda f: f["spec"]["vcpus"]}


def _int(low: int) -> Any:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise ValueError(f"{v!r} is not of type 'integer', 'string'")
        if isinstance(v, str) and not v.isdigit():
            raise ValueError(f"'{v}' does not match '^[0-9]*$'")
        if not low <= int(v) <= MAX_INT:
            raise ValueError(f"{v} is not within [{low}, {MAX_INT}]")
        return int(v)
    return check


def _flavor_id(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise ValueError(f"{v!r} is not of type 'string', 'number', 'null'")
    text = str(v)
    ok = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789. _-")
    if not text or len(text) > 255 or text != text.strip() or not set(text) <= ok:
        raise ValueError(f"'{text}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'")
    return text


def _rxtx(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{v!r} is not of type 'number', 'string'") from exc
    if not 0 < f <= 3.40282e38:
        raise ValueError(f"{v} is less than or equal to the minimum of 0")
    return f


class FlavorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: Name
    id: Annotated[str | None, BeforeValidator(_flavor_id)] = None
    ram: Annotated[int, BeforeValidator(_int(1))]
    vcpus: Annotated[int, BeforeValidator(_int(1))]
    disk: Annotated[int, BeforeValidator(_int(0))]
    ephemeral: Annotated[int, BeforeValidator(_int(0))] = Field(
        0, alias="OS-FLV-EXT-DATA:ephemeral")
    swap: Annotated[int, BeforeValidator(_int(0))] = 0
    rxtx_factor: Annotated[float, BeforeValidator(_rxtx)] = 1.0
    is_public: bool = Field(True, alias="os-flavor-access:is_public")
    description: Description = None


class FlavorCreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flavor: FlavorCreate


class FlavorUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: Description


class FlavorUpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flavor: FlavorUpdate


def flavor_not_found(flavor_id: str) -> Any:
    return not_found(f"Flavor {flavor_id} could not be found.")


def view(request: Request, flavor: Obj, detail: bool = True) -> Obj:
    spec, fid = flavor["spec"], flavor["metadata"]["name"]
    out: Obj = {"id": fid, "name": spec["name"], "links": links(request, "flavors", fid)}
    if detail:
        swap = int(spec.get("swap", 0))
        out.update({"ram": spec["ram"], "disk": spec.get("disk", 0),
                    "swap": swap if at_least(request, "2.75") else (swap or ""),
                    "OS-FLV-EXT-DATA:ephemeral": spec.get("ephemeral", 0),
                    "OS-FLV-DISABLED:disabled": False, "vcpus": spec["vcpus"],
                    "os-flavor-access:is_public": spec.get("isPublic", True),
                    "rxtx_factor": spec.get("rxtxFactor", 1.0)})
    if at_least(request, "2.55"):
        out["description"] = spec.get("description")
    if detail and at_least(request, "2.61"):
        out["extra_specs"] = dict(spec.get("extraSpecs") or {})
    return out


async def _visible(request: Request, ctx: AuthContext, flavor_id: str) -> Obj:
    flavor = await runtime(request).objects.try_get(cm.FLAVOR, "", flavor_id)
    if flavor is None or not flavor_accessible(ctx, flavor):
        raise flavor_not_found(flavor_id)
    return flavor


def _public_filter(ctx: AuthContext, raw: str | None) -> bool | None:
    if not ctx.is_admin or raw is None:
        return True
    if raw.lower() == "none":
        return None
    if raw.lower() in ("1", "t", "true", "on", "y", "yes"):
        return True
    if raw.lower() in ("0", "f", "false", "off", "n", "no"):
        return False
    raise bad(f"Invalid is_public filter [{raw}]")


async def _list(request: Request, detail: bool) -> Response:
    ctx = await caller(request)
    q = request.query_params
    public = _public_filter(ctx, q.get("is_public"))
    flavors = (await runtime(request).objects.list(cm.FLAVOR)).items
    if public is True:
        flavors = [f for f in flavors if f["spec"].get("isPublic", True)
                   or ctx.project_id in (f["spec"].get("projects") or [])]
    elif public is False:
        flavors = [f for f in flavors if not f["spec"].get("isPublic", True)]
    for param, field in (("minRam", "ram"), ("minDisk", "disk")):
        if param in q:
            try:
                least = int(q[param])
            except ValueError as exc:
                raise bad(f"Invalid {param} filter [{q[param]}]") from exc
            flavors = [f for f in flavors if int(f["spec"].get(field, 0)) >= least]
    key = q.get("sort_key") or "flavorid"
    direction = q.get("sort_dir") or "asc"
    if key not in SORT_KEYS:
        raise bad(f"Invalid input for query parameters sort_key. Value: {key}. "
                  f"'{key}' is not one of {sorted(SORT_KEYS)}")
    if direction not in ("asc", "desc"):
        raise bad(f"Invalid input for query parameters sort_dir. Value: {direction}. "
                  f"'{direction}' is not one of ['asc', 'desc']")
    flavors.sort(key=lambda f: (SORT_KEYS[key](f), f["metadata"]["name"]),
                 reverse=direction == "desc")
    flavors, links = paginate(request, "flavors", flavors, detail)
    return JSONResponse({"flavors": [view(request, f, detail) for f in flavors], **links})


index, detail = index_and_detail(_list)


async def show(request: Request) -> Response:
    ctx = await caller(request)
    return JSONResponse({"flavor": view(request, await _visible(
        request, ctx, request.path_params["flavor_id"]))})


async def create(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-flavor-manage:create")
    data = await body_of_any(request)
    if not at_least(request, "2.55") and isinstance(data.get("flavor"), dict) \
            and "description" in data["flavor"]:
        raise bad("Invalid input for field/attribute flavor. Value: {...}. Additional "
                  "properties are not allowed ('description' was unexpected)")
    body = parse_model(FlavorCreateBody, data, "flavor").flavor
    objects = runtime(request).objects
    name = body.name.strip()
    if any(f["spec"]["name"] == name for f in (await objects.list(cm.FLAVOR)).items):
        raise conflict(f"Flavor with name {name} already exists.")
    fid = body.id or str(uuid.uuid4())
    obj = {"apiVersion": "kumo.io/v1", "kind": cm.FLAVOR, "metadata": {"name": fid},
           "spec": {"name": name, "vcpus": body.vcpus, "ram": body.ram, "disk": body.disk,
                    "ephemeral": body.ephemeral, "swap": body.swap,
                    "rxtxFactor": body.rxtx_factor, "isPublic": body.is_public,
                    "extraSpecs": {}, "description": body.description, "projects": []}}
    try:
        created = await objects.create(obj)
    except store.AlreadyExists as exc:
        raise conflict(f"Flavor with ID {fid} already exists.") from exc
    return JSONResponse({"flavor": view(request, created)})


async def update(request: Request) -> Response:
    ctx = await caller(request)
    if not at_least(request, "2.55"):
        raise not_found("The resource could not be found.")
    require_admin(ctx, "os_compute_api:os-flavor-manage:update")
    fid = request.path_params["flavor_id"]
    body = await body_of(request, FlavorUpdateBody, "flavor")

    def change(obj: Obj) -> None:
        obj["spec"]["description"] = body.flavor.description

    updated = await mutate(runtime(request).objects, cm.FLAVOR, "", fid, change,
                           flavor_not_found(fid))
    return JSONResponse({"flavor": view(request, updated)})


async def delete(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-flavor-manage:delete")
    fid = request.path_params["flavor_id"]
    try:
        await runtime(request).objects.delete(cm.FLAVOR, "", fid)
    except store.NotFound as exc:
        raise flavor_not_found(fid) from exc
    return Response(status_code=202)


# ---- access lists ----------------------------------------------------------------
def _access(flavor: Obj) -> Response:
    fid = flavor["metadata"]["name"]
    return JSONResponse({"flavor_access": [{"flavor_id": fid, "tenant_id": p}
                                           for p in flavor["spec"].get("projects") or []]})


async def list_access(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-flavor-access")
    flavor = await _visible(request, ctx, request.path_params["flavor_id"])
    if flavor["spec"].get("isPublic", True):
        raise not_found("Access list not available for public flavors.")
    return _access(flavor)


async def flavor_action(request: Request) -> Response:
    ctx = await caller(request)
    fid = request.path_params["flavor_id"]
    data = await body_of_any(request)
    if len(data) != 1 or next(iter(data)) not in ("addTenantAccess", "removeTenantAccess"):
        raise bad(f"There is no such action: {next(iter(data), '')}")
    name, body = next(iter(data.items()))
    tenant = body.get("tenant") if isinstance(body, dict) else None
    if not isinstance(tenant, str) or not tenant:
        raise bad(f"Invalid input for field/attribute {name}. Value: {body}. "
                  "'tenant' is a required property")
    adding = name == "addTenantAccess"
    require_admin(ctx, "os_compute_api:os-flavor-access:"
                  f"{'add' if adding else 'remove'}_tenant_access")
    if adding and not await project_exists(request, tenant):
        raise bad(f"Project ID {tenant} is not a valid project.")

    def change(obj: Obj) -> None:
        projects = list(obj["spec"].get("projects") or [])
        if adding:
            if obj["spec"].get("isPublic", True) and at_least(request, "2.7"):
                raise conflict("Can not add access to a public flavor.")
            if tenant in projects:
                raise conflict(f"Flavor access already exists for flavor {fid} and project "
                               f"{tenant} combination.")
            projects.append(tenant)
        else:
            if tenant not in projects:
                raise not_found(f"Flavor access not found for {fid} / {tenant} combination.")
            projects.remove(tenant)
        obj["spec"]["projects"] = projects

    updated = await mutate(runtime(request).objects, cm.FLAVOR, "", fid, change,
                           flavor_not_found(fid))
    return _access(updated)
