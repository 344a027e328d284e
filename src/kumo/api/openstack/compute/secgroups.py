"""Nova's security-group proxies, as the openstack CLI, openstacksdk and Ansible call them.

    GET  /servers/{id}/os-security-groups      the groups of the server's ports
    POST /servers/{id}/action addSecurityGroup / removeSecurityGroup {"name": name or id}
    GET  /os-security-groups[/{id}]            the project's groups (microversions < 2.36;
                                               Nova deprecated the proxy then: 404)

Groups are the network's (kumo.core.secgroups; the rules are enforced by the host
agents); adding or removing one edits every port of the server through the same
port lifecycle as ``openstack port set --security-group``. Nova shows ingress rules
only, in its own format (ip_protocol, from_port/to_port, ip_range, group).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import errors as domain
from kumo.core import ports as core_ports
from kumo.core import secgroups as core_secgroups
from kumo.core.port_rules import PortUpdate
from kumo.model import network as nm

from ...auth import AuthContext
from ...common import actor_of
from ...runtime import Runtime, runtime
from .common import bad, caller, conflict, find_server, not_found, project_of
from .microversion import at_least

Obj = dict[str, Any]


def _rule_view(rule: Obj, names: dict[str, Obj]) -> Obj:
    s = rule["spec"]
    proto = s.get("protocol")
    icmp = proto in ("icmp", "1")
    lo, hi = s.get("portRangeMin"), s.get("portRangeMax")
    remote = names.get(s.get("remoteGroupId") or "")
    return {"id": rule["metadata"]["name"], "parent_group_id": s["securityGroupId"],
            "ip_protocol": proto,
            "from_port": lo if lo is not None else (-1 if icmp else None),
            "to_port": hi if hi is not None else (-1 if icmp else None),
            "ip_range": {"cidr": s["remoteIpPrefix"]} if s.get("remoteIpPrefix") else {},
            "group": {"name": remote["spec"].get("name", ""),
                      "tenant_id": remote["metadata"]["namespace"]} if remote else {}}


def group_view(group: Obj, rules: list[Obj], names: dict[str, Obj]) -> Obj:
    spec = group["spec"]
    return {"id": group["metadata"]["name"], "name": spec.get("name", ""),
            "description": spec.get("description", ""),
            "tenant_id": group["metadata"]["namespace"],
            "rules": [_rule_view(r, names) for r in rules
                      if r["spec"].get("direction") == "ingress"]}


async def _groups_of(rt: Runtime, project: str) -> tuple[dict[str, Obj], dict[str, list[Obj]]]:
    await core_secgroups.ensure_default(rt.objects, project)
    groups = {g["metadata"]["name"]: g
              for g in (await rt.objects.list(nm.SECURITY_GROUP, project)).items}
    rules: dict[str, list[Obj]] = {}
    items = (await rt.objects.list(nm.SECURITY_GROUP_RULE, project)).items
    for r in sorted(items, key=lambda r: r["metadata"].get("creationTimestamp", "")):
        rules.setdefault(r["spec"]["securityGroupId"], []).append(r)
    return groups, rules


async def _server_ports(rt: Runtime, server: Obj) -> list[Obj]:
    ns = server["metadata"]["namespace"]
    ports = [await rt.objects.try_get(nm.PORT, ns, pid) for pid in server["spec"].get("ports")
             or []]
    return [p for p in ports if p is not None]


async def server_groups(request: Request) -> Response:
    ctx = await caller(request)
    server = await find_server(request, ctx, request.path_params["server_id"])
    rt = runtime(request)
    groups, rules = await _groups_of(rt, server["metadata"]["namespace"])
    ids: list[str] = []
    for port in await _server_ports(rt, server):
        ids += [g for g in port["spec"].get("securityGroups") or [] if g not in ids]
    views = [group_view(groups[g], rules.get(g, []), groups) for g in ids if g in groups]
    return JSONResponse({"security_groups": views})


def _deprecated(request: Request) -> None:
    if at_least(request, "2.36"):
        raise not_found("The resource could not be found.")


async def index(request: Request) -> Response:
    ctx = await caller(request)
    _deprecated(request)
    groups, rules = await _groups_of(runtime(request), project_of(ctx))
    ordered = sorted(groups.values(), key=lambda g: g["metadata"].get("creationTimestamp", ""))
    return JSONResponse({"security_groups": [
        group_view(g, rules.get(g["metadata"]["name"], []), groups) for g in ordered]})


async def show(request: Request) -> Response:
    ctx = await caller(request)
    _deprecated(request)
    gid = request.path_params["group_id"]
    groups, rules = await _groups_of(runtime(request), project_of(ctx))
    if gid not in groups:
        raise not_found(f"Security group {gid} not found.")
    return JSONResponse({"security_group": group_view(groups[gid], rules.get(gid, []), groups)})


async def _find(rt: Runtime, project: str, body: Any) -> Obj:
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
        raise bad("Missing parameter name")
    name = body["name"]
    groups, _ = await _groups_of(rt, project)
    if name in groups:
        return groups[name]
    found = [g for g in groups.values() if g["spec"].get("name") == name]
    if not found:
        raise not_found(f"Security group {name} not found for project {project}.")
    if len(found) > 1:
        raise conflict(f"Multiple security_group matches found for name '{name}', use an ID "
                       "to be more specific.")
    return found[0]


async def resolve_names(rt: Runtime, project: str, names: list[str]) -> list[str]:
    """Server create's ``security_groups``: each name (or id) to one group id (400 as Nova
    when one is missing or ambiguous)."""
    groups, _ = await _groups_of(rt, project)
    out: list[str] = []
    for name in names:
        found = [g for g in groups.values() if name in (g["metadata"]["name"],
                                                       g["spec"].get("name"))]
        if len(found) != 1:
            raise bad(f"Security group {name} not found." if not found else
                      f"Multiple security_group matches found for name '{name}', use an ID "
                      "to be more specific.")
        if found[0]["metadata"]["name"] not in out:
            out.append(found[0]["metadata"]["name"])
    return out


async def _set_groups(rt: Runtime, ctx: AuthContext, port: Obj, groups: list[str]) -> None:
    try:
        await core_ports.update_port(rt.objects, actor_of(ctx), port,
                                     PortUpdate(security_groups=groups))
    except domain.DomainError as exc:
        raise bad(str(exc)) from None


async def add_group(request: Request, ctx: AuthContext, server: Obj, body: Any) -> Response:
    rt = runtime(request)
    sid = server["metadata"]["name"]
    group = await _find(rt, server["metadata"]["namespace"], body)
    gid = group["metadata"]["name"]
    ports = await _server_ports(rt, server)
    if not ports or not all(p["spec"].get("portSecurityEnabled", True) for p in ports):
        raise bad("Network requires port_security_enabled and subnet associated in order to "
                  "apply security groups.")
    if any(gid in (p["spec"].get("securityGroups") or []) for p in ports):
        raise bad(f"Security group {body['name']} is already associated with the instance "
                  f"{sid}")
    for port in ports:
        await _set_groups(rt, ctx, port, [*(port["spec"].get("securityGroups") or []), gid])
    return Response(status_code=202)


async def remove_group(request: Request, ctx: AuthContext, server: Obj, body: Any
                       ) -> Response:
    rt = runtime(request)
    sid = server["metadata"]["name"]
    group = await _find(rt, server["metadata"]["namespace"], body)
    gid = group["metadata"]["name"]
    holding = [p for p in await _server_ports(rt, server)
               if gid in (p["spec"].get("securityGroups") or [])]
    if not holding:
        raise bad(f"Security group {body['name']} not associated with the instance {sid}")
    for port in holding:
        await _set_groups(rt, ctx, port, [g for g in port["spec"]["securityGroups"] if g != gid])
    return Response(status_code=202)


ACTIONS = {"addSecurityGroup": add_group, "removeSecurityGroup": remove_group}
