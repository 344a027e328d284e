"""Server groups: ServerGroup objects in the project's namespace (name = group id).

Members are not stored: they are the project's servers whose spec.group is the
group's id and which are not being deleted. The scheduler reads the policy.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import compute as cm

from ...auth import AuthContext
from ...runtime import runtime
from .common import (
    bad,
    body_of,
    caller,
    not_found,
    project_of,
    require_member,
)
from .microversion import at_least
from .quotas import claim_group, release
from .schemas import Name

Obj = dict[str, Any]
POLICIES = ("anti-affinity", "affinity")
SOFT_POLICIES = ("soft-anti-affinity", "soft-affinity")


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    policies: list[Any] | None = None
    policy: str | None = None
    rules: dict[str, Any] | None = None


class GroupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    server_group: GroupCreate


def _not_found(group_id: str) -> Any:
    return not_found(f"Instance group {group_id} could not be found.")


def _policy(request: Request, body: GroupCreate) -> tuple[str, dict[str, Any]]:
    allowed = POLICIES + (SOFT_POLICIES if at_least(request, "2.15") else ())
    fields = body.model_fields_set
    if at_least(request, "2.64"):
        if "policies" in fields:
            raise bad("Invalid input for field/attribute server_group. Value: {...}. "
                      "Additional properties are not allowed ('policies' was unexpected)")
        if body.policy is None:
            raise bad("Invalid input for field/attribute server_group. Value: {...}. "
                      "'policy' is a required property")
        if body.policy not in allowed:
            raise bad(f"Invalid input for field/attribute policy. Value: {body.policy}. "
                      f"'{body.policy}' is not one of {list(allowed)}")
        rules = body.rules or {}
        if rules and body.policy != "anti-affinity":
            raise bad("Only anti-affinity policy supports rules.")
        for key, value in rules.items():
            if key != "max_server_per_host":
                raise bad("Invalid input for field/attribute rules. Value: {...}. Additional "
                          f"properties are not allowed ('{key}' was unexpected)")
            if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
                raise bad(f"Invalid input for field/attribute max_server_per_host. Value: "
                          f"{value}. {value} is less than the minimum of 1")
            rules[key] = int(value)
        return body.policy, rules
    if "policy" in fields or "rules" in fields:
        extra = "policy" if "policy" in fields else "rules"
        raise bad("Invalid input for field/attribute server_group. Value: {...}. "
                  f"Additional properties are not allowed ('{extra}' was unexpected)")
    policies = body.policies
    if not policies or len(policies) != 1 or policies[0] not in allowed:
        raise bad(f"Invalid input for field/attribute policies. Value: {policies}. "
                  f"{policies} is not valid: exactly one of {list(allowed)} is required")
    return policies[0], {}


async def _members(objects: store.ObjectStore, ns: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in (await objects.list(cm.SERVER, ns)).items:
        group = s["spec"].get("group")
        if group and not s["metadata"].get("deletionTimestamp"):
            out.setdefault(group, []).append(s["metadata"]["name"])
    return out


def _view(request: Request, group: Obj, members: list[str]) -> Obj:
    spec = group["spec"]
    out: Obj = {"id": group["metadata"]["name"], "name": spec["name"]}
    if at_least(request, "2.64"):
        out.update({"policy": spec["policy"], "rules": dict(spec.get("rules") or {})})
    else:
        out.update({"policies": [spec["policy"]], "metadata": {}})
    out["members"] = sorted(members)
    if at_least(request, "2.13"):
        out["project_id"] = group["metadata"]["namespace"]
        out["user_id"] = spec.get("userId", "")
    return out


async def create(request: Request) -> Response:
    ctx = await caller(request)
    require_member(ctx, "os_compute_api:os-server-groups:create")
    body = (await body_of(request, GroupBody, "server_group")).server_group
    policy, rules = _policy(request, body)
    objects = runtime(request).objects
    pid = project_of(ctx)
    gid = str(uuid.uuid4())
    await claim_group(objects, pid, gid)
    obj = {"apiVersion": "kumo.io/v1", "kind": cm.SERVER_GROUP,
           "metadata": {"name": gid, "namespace": pid},
           "spec": {"name": body.name, "policy": policy, "rules": rules, "userId": ctx.user_id}}
    try:
        created = await objects.create(obj)
    except BaseException:
        await release(objects, pid, [gid])
        raise
    return JSONResponse({"server_group": _view(request, created, [])})


async def _find(request: Request, ctx: AuthContext, group_id: str) -> Obj:
    objects = runtime(request).objects
    group = await objects.try_get(cm.SERVER_GROUP, project_of(ctx), group_id)
    if group is None and ctx.is_admin:
        group = next((g for g in (await objects.list(cm.SERVER_GROUP)).items
                      if g["metadata"]["name"] == group_id), None)
    if group is None:
        raise _not_found(group_id)
    return group


async def show(request: Request) -> Response:
    ctx = await caller(request)
    group = await _find(request, ctx, request.path_params["group_id"])
    members = await _members(runtime(request).objects, group["metadata"]["namespace"])
    return JSONResponse({"server_group": _view(request, group,
                                               members.get(group["metadata"]["name"], []))})


async def index(request: Request) -> Response:
    ctx = await caller(request)
    objects = runtime(request).objects
    everyone = "all_projects" in request.query_params and ctx.is_admin
    groups = (await objects.list(cm.SERVER_GROUP, None if everyone else project_of(ctx))).items
    groups.sort(key=lambda g: (g["metadata"].get("creationTimestamp") or "",
                               g["metadata"]["name"]))
    try:
        offset = int(request.query_params.get("offset", 0))
        limit = int(request.query_params.get("limit", 1000))
    except ValueError as exc:
        raise bad("limit and offset must be integers") from exc
    if offset < 0 or limit < 0:
        raise bad("limit and offset must be positive")
    groups = groups[offset:offset + min(limit, 1000)]
    members: dict[str, list[str]] = {}
    for ns in {g["metadata"]["namespace"] for g in groups}:
        members.update(await _members(objects, ns))
    return JSONResponse({"server_groups": [
        _view(request, g, members.get(g["metadata"]["name"], [])) for g in groups]})


async def delete(request: Request) -> Response:
    ctx = await caller(request)
    require_member(ctx, "os_compute_api:os-server-groups:delete")
    group = await _find(request, ctx, request.path_params["group_id"])
    md = group["metadata"]
    try:
        await runtime(request).objects.delete(cm.SERVER_GROUP, md["namespace"], md["name"])
    except store.NotFound as exc:
        raise _not_found(md["name"]) from exc
    await release(runtime(request).objects, md["namespace"], [md["name"]])
    return Response(status_code=204)
