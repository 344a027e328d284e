"""RBAC policies: /v2.0/rbac-policies — ``access_as_shared`` on networks, to one project
or (admins) to all. The target project then sees the network and its subnets and makes
ports on it; the share itself is kumo.core.rbac's."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.core import rbac as core
from kumo.model import network as nm

from ...runtime import Runtime, runtime
from .common import (
    Caller,
    body_of,
    caller,
    check_keys,
    check_project,
    create_request,
    find_network,
    new_object,
    writable,
)
from .errors import bad_request, err, not_found, policy
from .lists import by_creation, list_response, shown

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
    found = next((p for p in await visible(rt, c) if p["metadata"]["name"] == pid), None)
    if found is None:
        raise not_found(nm.RBAC_POLICY, pid)
    return found


async def index(request: Request) -> Response:
    c = await caller(request)
    views = [rbac_view(p) for p in by_creation(await visible(runtime(request), c))]
    return JSONResponse(list_response(request, "rbac_policies", views))


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
    for p in (await rt.objects.list(nm.RBAC_POLICY, None)).items:
        if p["spec"]["objectId"] == net_id and p["spec"]["targetProject"] == target:
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
    c = await caller(request)
    data = await body_of(request, "rbac_policy")
    check_keys(data, {"target_tenant", "target_project"})
    rt = runtime(request)
    pol = writable(c, await find(rt, c, request.path_params["rbac_id"]), "update_rbac_policy")
    target = data.get("target_tenant", data.get("target_project"))
    core.check_request(pol["spec"]["objectType"], pol["spec"]["action"], target)
    if target == "*" and not c.is_admin:
        raise policy("update_rbac_policy:target_tenant")
    net = await find_network(rt, c, pol["spec"]["objectId"])
    others = (await rt.objects.list(nm.RBAC_POLICY, None,
                                    label_selector=f"{nm.NETWORK_LABEL}={net['metadata']['name']}")).items
    await core.check_unshare(rt.objects, pol, others)
    old = pol["spec"]["targetProject"]
    pol = await rt.objects.mutate(nm.RBAC_POLICY, pol["metadata"]["namespace"],
                                  pol["metadata"]["name"],
                                  lambda o: o["spec"].__setitem__("targetProject", target))
    await core.set_label(rt.objects, net, target, True)
    if not any(o["spec"]["targetProject"] == old for o in others
               if o["metadata"]["name"] != pol["metadata"]["name"]):
        await core.set_label(rt.objects, net, old, False)
    return JSONResponse({"rbac_policy": rbac_view(pol)})


async def delete(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    pol = writable(c, await find(rt, c, request.path_params["rbac_id"]), "delete_rbac_policy")
    spec = pol["spec"]
    others = (await rt.objects.list(nm.RBAC_POLICY, None,
                                    label_selector=f"{nm.NETWORK_LABEL}={spec['objectId']}")).items
    await core.check_unshare(rt.objects, pol, others)
    try:
        await rt.objects.delete(nm.RBAC_POLICY, pol["metadata"]["namespace"],
                                pol["metadata"]["name"])
    except store.NotFound:
        pass
    if not any(o["spec"]["targetProject"] == spec["targetProject"] for o in others
               if o["metadata"]["name"] != pol["metadata"]["name"]):
        owner = {"metadata": {"namespace": pol["metadata"]["namespace"],
                              "name": spec["objectId"]}}
        await core.set_label(rt.objects, owner, spec["targetProject"], False)
    return Response(status_code=204)
