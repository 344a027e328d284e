"""RBAC policies: /v2.0/rbac-policies — ``access_as_shared`` on networks, to one project
or (admins) to all. The target project then sees the network and its subnets and makes
ports on it; the share itself is kumo.core.rbac's."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import rbac as core
from kumo.model import network as nm

from ...runtime import Runtime, runtime
from .common import (
    Caller,
    caller,
    check_project,
    create_request,
    delete_quietly,
    delete_request,
    find_network,
    find_visible,
    new_object,
    update_request,
)
from .errors import bad_request, err, not_found, policy
from .lists import listed, shown

Obj = dict[str, Any]
_CREATE = {"object_type", "object_id", "action", "target_tenant", "target_project",
           "project_id", "tenant_id"}


def rbac_view(p: Obj) -> Obj:
    spec, ns = p["spec"], p["metadata"]["namespace"]
    return {"id": p["metadata"]["name"], "project_id": ns, "tenant_id": ns,
            "object_type": spec["objectType"], "object_id": spec["objectId"],
            "action": spec["action"], "target_tenant": spec["targetProject"],
            "target_project": spec["targetProject"]}


async def visible(rt: Runtime, c: Caller) -> list[Obj]:
    """Policies the caller made (all for admins), and those that target its project."""
    every = (await rt.objects.list(nm.RBAC_POLICY, None)).items
    if c.is_admin:
        return every
    return [p for p in every if p["metadata"]["namespace"] == c.project_id
            or p["spec"]["targetProject"] == c.project_id]


async def find(rt: Runtime, c: Caller, pid: str) -> Obj:
    return await find_visible(rt, c, nm.RBAC_POLICY, pid, visible)


async def _policies_on(rt: Runtime, net_id: str) -> list[Obj]:
    """The network's policies (each carries its network's label)."""
    return (await rt.objects.list(nm.RBAC_POLICY, None,
                                  label_selector=f"{nm.NETWORK_LABEL}={net_id}")).items


async def index(request: Request) -> Response:
    c = await caller(request)
    return listed(request, "rbac_policies", rbac_view, await visible(runtime(request), c))


async def show(request: Request) -> Response:
    c = await caller(request)
    return shown(request, "rbac_policy",
                 rbac_view(await find(runtime(request), c, request.path_params["rbac_id"])))


async def create(request: Request) -> Response:
    c, data = await create_request(request, "rbac_policy", _CREATE)
    rt = runtime(request)
    project = check_project(c, data)
    for key in ("object_type", "object_id", "action"):
        if key not in data:
            raise bad_request(f"Failed to parse request. Required attribute '{key}' not "
                              "specified")
    target = data.get("target_tenant", data.get("target_project"))
    core.check_request(data["object_type"], data["action"], target)
    if target == "*" and not c.is_admin:
        raise policy("create_rbac_policy:target_tenant")
    net = await find_network(rt, c, str(data["object_id"]))
    if net["metadata"]["namespace"] != project and not c.is_admin:
        raise not_found(nm.NETWORK, str(data["object_id"]))  # Neutron hides others' nets
    net_id = net["metadata"]["name"]
    for p in await _policies_on(rt, net_id):
        if p["spec"]["targetProject"] == target:
            raise err(409, "DuplicateRbacPolicy", "An RBAC policy already exists with "
                                                  "those values.")
    obj = await rt.objects.create(new_object(nm.RBAC_POLICY, net["metadata"]["namespace"],
                                             str(uuid.uuid4()), {
        "objectType": "network", "objectId": net_id, "action": data["action"],
        "targetProject": target}, {nm.NETWORK_LABEL: net_id}))
    await core.set_label(rt.objects, net, target, True)
    return JSONResponse({"rbac_policy": rbac_view(obj)}, status_code=201)


async def update(request: Request) -> Response:
    """Only the target may change (Neutron); a move is unshare + share."""
    rt, c, pol, data = await update_request(request, "rbac_policy", find, "rbac_id",
                                            {"target_tenant", "target_project"})
    target = data.get("target_tenant", data.get("target_project"))
    core.check_request(pol["spec"]["objectType"], pol["spec"]["action"], target)
    if target == "*" and not c.is_admin:
        raise policy("update_rbac_policy:target_tenant")
    if target == pol["spec"]["targetProject"]:
        return JSONResponse({"rbac_policy": rbac_view(pol)})  # no move: nothing unshared
    net = await find_network(rt, c, pol["spec"]["objectId"])
    others = await _policies_on(rt, net["metadata"]["name"])
    await core.check_unshare(rt.objects, pol, others)
    updated = await rt.objects.mutate(nm.RBAC_POLICY, pol["metadata"]["namespace"],
                                      pol["metadata"]["name"],
                                      lambda o: o["spec"].__setitem__("targetProject", target))
    await core.set_label(rt.objects, net, target, True)
    await core.drop_share(rt.objects, pol, others)
    return JSONResponse({"rbac_policy": rbac_view(updated)})


async def delete(request: Request) -> Response:
    rt, _, pol = await delete_request(request, "rbac_policy", find, "rbac_id")
    others = await _policies_on(rt, pol["spec"]["objectId"])
    await core.check_unshare(rt.objects, pol, others)
    await delete_quietly(rt, pol)
    await core.drop_share(rt.objects, pol, others)
    return Response(status_code=204)
