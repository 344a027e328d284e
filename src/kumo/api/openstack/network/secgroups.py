"""Security groups and rules: /v2.0/security-groups, /v2.0/security-group-rules.

Every project has a ``default`` group (id derived from the project, so concurrent
first requests make it once) with Neutron's default rules. Rules are stored and
validated (sg_rules.py); enforcement on the data path is not done yet.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.core import secgroups
from kumo.model import network as nm

from ...runtime import Runtime, runtime
from .common import (
    Caller,
    body_of,
    caller,
    check_keys,
    check_project,
    claim_quota,
    create_request,
    find_owned,
    mutate,
    new_object,
    release_quota,
    standard,
    to_bool,
    to_str,
    to_tags,
)
from .errors import bad_request, err, not_found, policy
from .lists import by_creation, list_response, shown

Obj = dict[str, Any]
_SG_CREATE = {"name", "description", "stateful", "tags", "project_id", "tenant_id"}
_SG_UPDATE = {"name", "description", "stateful"}
def rule_view(rule: Obj, default_group: str | None = None) -> Obj:
    spec = rule["spec"]
    out = standard(rule)
    out.pop("tags")
    prefix = spec.get("remoteIpPrefix")
    out.update({"security_group_id": spec["securityGroupId"], "direction": spec["direction"],
                "ethertype": spec["ethertype"], "protocol": spec.get("protocol"),
                "port_range_min": spec.get("portRangeMin"),
                "port_range_max": spec.get("portRangeMax"), "remote_ip_prefix": prefix,
                "normalized_cidr": prefix, "remote_group_id": spec.get("remoteGroupId"),
                "remote_address_group_id": spec.get("remoteAddressGroupId"),
                "belongs_to_default_sg": spec["securityGroupId"] == default_group})
    return out


def group_view(group: Obj, rules: list[Obj]) -> Obj:
    spec = group["spec"]
    default = nm.default_security_group_id(group["metadata"]["namespace"])
    return {**standard(group), "name": spec.get("name", ""),
            "stateful": spec.get("stateful", True), "shared": False,
            "security_group_rules": [rule_view(r, default) for r in rules]}


async def ensure_default(rt: Runtime, project: str) -> str:
    """The project's default group, made with its rules on first use (kumo.core)."""
    return await secgroups.ensure_default(rt.objects, project)


async def rules_of(rt: Runtime, groups: list[Obj]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = {}
    if len(groups) == 1:
        g = groups[0]
        found = await rt.objects.list(nm.SECURITY_GROUP_RULE, g["metadata"]["namespace"],
                                      label_selector=f"{nm.SG_LABEL}={g['metadata']['name']}")
        items = found.items
    else:
        namespaces = {g["metadata"]["namespace"] for g in groups}
        items = []
        for ns in sorted(namespaces):
            items += (await rt.objects.list(nm.SECURITY_GROUP_RULE, ns)).items
    for r in sorted(items, key=lambda r: r["metadata"].get("creationTimestamp", "")):
        out.setdefault(r["spec"]["securityGroupId"], []).append(r)
    return out


async def visible_groups(rt: Runtime, c: Caller) -> list[Obj]:
    await ensure_default(rt, c.project_id)
    return (await rt.objects.list(nm.SECURITY_GROUP, None if c.is_admin else c.project_id)).items


async def find_group(rt: Runtime, c: Caller, gid: str) -> Obj:
    if gid == nm.default_security_group_id(c.project_id):
        await ensure_default(rt, c.project_id)
    return await find_owned(rt, c, nm.SECURITY_GROUP, gid)


# ---- groups ---------------------------------------------------------------------
async def index(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    groups = by_creation(await visible_groups(rt, c))
    rules = await rules_of(rt, groups)
    views = [group_view(g, rules.get(g["metadata"]["name"], [])) for g in groups]
    return JSONResponse(list_response(request, "security_groups", views))


async def show(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    group = await find_group(rt, c, request.path_params["group_id"])
    rules = await rules_of(rt, [group])
    view = group_view(group, rules.get(group["metadata"]["name"], []))
    return shown(request, "security_group", view)


async def create(request: Request) -> Response:
    c, data = await create_request(request, "security_group", _SG_CREATE)
    rt = runtime(request)
    project = check_project(c, data)
    name = to_str("name", data.get("name", ""))
    if name == "default":
        raise err(409, "SecurityGroupDefaultAlreadyExists",
                  "Default security group already exists.")
    await ensure_default(rt, project)
    gid = str(uuid.uuid4())
    rids = [str(uuid.uuid4()), str(uuid.uuid4())]
    await claim_quota(rt, c, project, "security_group", [gid])
    await claim_quota(rt, Caller.kumo(project), project, "security_group_rule", rids)
    try:
        group = await rt.objects.create(new_object(nm.SECURITY_GROUP, project, gid, {
            "name": name, "description": to_str("description", data.get("description", "")),
            "stateful": to_bool("stateful", data.get("stateful", True)),
            "tags": to_tags(data.get("tags", []))}))
        rules = [await rt.objects.create(new_object(
            nm.SECURITY_GROUP_RULE, project, rid,
            secgroups.rule_spec(gid, "egress", ether), {nm.SG_LABEL: gid}))
            for rid, ether in zip(rids, ("IPv4", "IPv6"), strict=True)]
    except BaseException:
        await release_quota(rt, project, [gid, *rids])
        raise
    return JSONResponse({"security_group": group_view(group, rules)}, status_code=201)


async def _writable_group(rt: Runtime, c: Caller, gid: str, action: str) -> Obj:
    group = await find_group(rt, c, gid)
    if not c.can_write:
        raise policy(f"{action}_security_group")
    return group


async def update(request: Request) -> Response:
    c = await caller(request)
    data = await body_of(request, "security_group")
    for ro in ("id", "project_id", "tenant_id", "security_group_rules", "tags"):
        if ro in data:
            raise bad_request(f"Cannot update read-only attribute {ro}")
    check_keys(data, _SG_UPDATE)
    rt = runtime(request)
    group = await _writable_group(rt, c, request.path_params["group_id"], "update")
    changes: Obj = {}
    if "name" in data:
        changes["name"] = to_str("name", data["name"])
        if group["spec"].get("name") == "default" and changes["name"] != "default" and \
                group["metadata"]["name"] == nm.default_security_group_id(
                    group["metadata"]["namespace"]):
            raise err(409, "SecurityGroupCannotUpdateDefault",
                      "Updating default security group not allowed.")
        if changes["name"] == "default" and group["spec"].get("name") != "default":
            raise err(409, "SecurityGroupDefaultAlreadyExists",
                      "Default security group already exists.")
    if "description" in data:
        changes["description"] = to_str("description", data["description"])
    if "stateful" in data:
        changes["stateful"] = to_bool("stateful", data["stateful"])
    group = await mutate(rt, group, lambda o: o["spec"].update(changes))
    rules = await rules_of(rt, [group])
    return JSONResponse({"security_group": group_view(group,
                                                      rules.get(group["metadata"]["name"], []))})


async def delete(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    gid = request.path_params["group_id"]
    group = await _writable_group(rt, c, gid, "delete")
    ns = group["metadata"]["namespace"]
    if gid == nm.default_security_group_id(ns) and not c.is_admin:
        raise err(409, "SecurityGroupCannotRemoveDefault",
                  "Insufficient rights for removing default security group.")
    for port in (await rt.objects.list(nm.PORT, ns)).items:  # a port's groups are its own
        if gid in (port["spec"].get("securityGroups") or []):
            raise err(409, "SecurityGroupInUse", f"Security Group {gid} in use.")
    try:
        await rt.objects.delete(nm.SECURITY_GROUP, ns, gid)
    except store.NotFound:
        raise not_found(nm.SECURITY_GROUP, gid) from None
    gone = [gid]
    for rule in (await rt.objects.list(nm.SECURITY_GROUP_RULE, ns,
                                       label_selector=f"{nm.SG_LABEL}={gid}")).items:
        gone.append(rule["metadata"]["name"])
        try:
            await rt.objects.delete(nm.SECURITY_GROUP_RULE, ns, rule["metadata"]["name"])
        except store.NotFound:
            pass
    await release_quota(rt, ns, gone)
    return Response(status_code=204)
