"""Security groups and rules: /v2.0/security-groups, /v2.0/security-group-rules.

Every project has a ``default`` group (id derived from the project, so concurrent
first requests make it once) with Neutron's default rules. Rules are stored and
validated; enforcement on the data path is not done yet.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import network as nm

from ...runtime import Runtime, runtime
from .common import (
    Caller,
    bad_request,
    body_of,
    by_creation,
    caller,
    check_keys,
    check_project,
    check_quota,
    err,
    fields_of,
    find_owned,
    invalid,
    list_response,
    mutate,
    new_object,
    not_found,
    policy,
    select_fields,
    standard,
    to_bool,
    to_str,
    to_tags,
)

Obj = dict[str, Any]
PROTOCOLS = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "icmp": 1, "icmpv6": 58,
             "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
             "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113,
             "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
             "any": None}
PORT_PROTOCOLS = {"tcp", "udp", "dccp", "sctp", "udplite", "6", "17", "33", "132", "136"}
ICMP = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}
_SG_CREATE = {"name", "description", "stateful", "tags", "project_id", "tenant_id"}
_SG_UPDATE = {"name", "description", "stateful"}
_RULE_CREATE = {"security_group_id", "direction", "ethertype", "protocol", "port_range_min",
                "port_range_max", "remote_ip_prefix", "remote_group_id",
                "remote_address_group_id", "description", "project_id", "tenant_id"}


def _rule_id(group_id: str, n: int) -> str:
    return str(uuid.uuid5(uuid.UUID(group_id), f"default-rule-{n}"))


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
    """The project's default group, made with its rules on first use."""
    gid = nm.default_security_group_id(project)
    if await rt.objects.try_get(nm.SECURITY_GROUP, project, gid) is not None:
        return gid
    rules = [("egress", "IPv4", None), ("egress", "IPv6", None),
             ("ingress", "IPv4", gid), ("ingress", "IPv6", gid)]
    for n, (direction, ether, remote) in enumerate(rules):
        spec = {"securityGroupId": gid, "direction": direction, "ethertype": ether,
                "protocol": None, "portRangeMin": None, "portRangeMax": None,
                "remoteIpPrefix": None, "remoteGroupId": remote, "remoteAddressGroupId": None,
                "description": ""}
        try:
            await rt.objects.create(new_object(nm.SECURITY_GROUP_RULE, project,
                                               _rule_id(gid, n), spec, {nm.SG_LABEL: gid}))
        except store.AlreadyExists:
            pass
    try:
        await rt.objects.create(new_object(nm.SECURITY_GROUP, project, gid, {
            "name": "default", "description": "Default security group", "stateful": True,
            "tags": []}))
    except store.AlreadyExists:
        pass
    return gid


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
    return JSONResponse({"security_group": select_fields(view, fields_of(request))})


async def create(request: Request) -> Response:
    c = await caller(request)
    data = await body_of(request, "security_group")
    check_keys(data, _SG_CREATE)
    c.require_write("create_security_group")
    rt = runtime(request)
    project = check_project(c, data)
    name = to_str("name", data.get("name", ""))
    if name == "default":
        raise err(409, "SecurityGroupDefaultAlreadyExists",
                  "Default security group already exists.")
    await ensure_default(rt, project)
    await check_quota(rt, c, project, "security_group")
    gid = str(uuid.uuid4())
    group = await rt.objects.create(new_object(nm.SECURITY_GROUP, project, gid, {
        "name": name, "description": to_str("description", data.get("description", "")),
        "stateful": to_bool("stateful", data.get("stateful", True)),
        "tags": to_tags(data.get("tags", []))}))
    rules = []
    for ether in ("IPv4", "IPv6"):
        rules.append(await rt.objects.create(new_object(
            nm.SECURITY_GROUP_RULE, project, str(uuid.uuid4()), {
                "securityGroupId": gid, "direction": "egress", "ethertype": ether,
                "protocol": None, "portRangeMin": None, "portRangeMax": None,
                "remoteIpPrefix": None, "remoteGroupId": None, "remoteAddressGroupId": None,
                "description": ""}, {nm.SG_LABEL: gid})))
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
    for rule in (await rt.objects.list(nm.SECURITY_GROUP_RULE, ns,
                                       label_selector=f"{nm.SG_LABEL}={gid}")).items:
        try:
            await rt.objects.delete(nm.SECURITY_GROUP_RULE, ns, rule["metadata"]["name"])
        except store.NotFound:
            pass
    return Response(status_code=204)


# ---- rules ------------------------------------------------------------------------
def _port(name: str, value: Any) -> int | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        out = int(value)
    except (TypeError, ValueError) as exc:
        raise err(400, "SecurityGroupInvalidPortValue", f"Invalid value for port {value}") \
            from exc
    if not 0 <= out <= 65535:
        raise err(400, "SecurityGroupInvalidPortValue", f"Invalid value for port {value}")
    return out


def _protocol(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).lower()
    if text in PROTOCOLS:
        return None if text == "any" else text
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise err(400, "SecurityGroupRuleInvalidProtocol",
              f"Security group rule protocol {value} not supported. Only protocol values "
              f"{sorted(k for k in PROTOCOLS if k != 'any')} and integer representations "
              "[0 to 255] are supported.")


def parse_rule(data: Obj) -> Obj:
    direction = data.get("direction")
    if direction not in ("ingress", "egress"):
        raise invalid(f"Invalid input for direction. Reason: {direction!r} is not in "
                      "['ingress', 'egress'].")
    ether = data.get("ethertype", "IPv4")
    if ether not in ("IPv4", "IPv6"):
        raise err(400, "SecurityGroupRuleInvalidEtherType",
                  f"Security group rule for ethertype '{ether}' not supported. Allowed "
                  "values are ['IPv4', 'IPv6'].")
    protocol = _protocol(data.get("protocol"))
    lo, hi = _port("port_range_min", data.get("port_range_min")), \
        _port("port_range_max", data.get("port_range_max"))
    if protocol in PORT_PROTOCOLS:
        if lo is not None and hi is not None and lo > hi:
            raise err(400, "SecurityGroupInvalidPortRange",
                      "For TCP/UDP protocols, port_range_min must be <= port_range_max")
        if (lo == 0) or (hi == 0):
            raise err(400, "SecurityGroupInvalidPortValue", "Invalid value for port 0")
        if lo is not None and hi is None:
            hi = lo
        if hi is not None and lo is None:
            raise err(400, "SecurityGroupInvalidPortRange",
                      "For TCP/UDP protocols, port_range_min must be <= port_range_max")
    elif protocol in ICMP:
        if lo is not None and lo > 255:
            raise err(400, "SecurityGroupInvalidIcmpValue",
                      f"Invalid value for ICMP type (port_range_min): {lo}. It must be 0 "
                      "to 255.")
        if hi is not None and hi > 255:
            raise err(400, "SecurityGroupInvalidIcmpValue",
                      f"Invalid value for ICMP code (port_range_max): {hi}. It must be 0 "
                      "to 255.")
        if hi is not None and lo is None:
            raise err(400, "SecurityGroupMissingIcmpType",
                      f"ICMP code (port-range-max) {hi} is provided but ICMP type "
                      "(port-range-min) is missing.")
    elif lo is not None or hi is not None:
        raise err(400, "SecurityGroupInvalidProtocolForPortRange",
                  f"Invalid protocol {protocol} for port range, only supported for TCP, UDP, "
                  "UDPLITE, SCTP and DCCP.")
    prefix = data.get("remote_ip_prefix")
    remote_group = data.get("remote_group_id")
    if prefix is not None and remote_group is not None:
        raise err(400, "SecurityGroupRemoteGroupAndRemoteIpPrefix",
                  "Only remote_ip_prefix or remote_group_id may be provided.")
    if data.get("remote_address_group_id") is not None:
        raise invalid("remote_address_group_id is not supported by kumo.")
    if prefix is not None:
        try:
            net = ipaddress.ip_network(prefix, strict=False)
        except (ValueError, TypeError) as exc:
            raise invalid(f"Invalid input for remote_ip_prefix. Reason: '{prefix}' is not a "
                          "valid IP subnet.") from exc
        if f"IPv{net.version}" != ether:
            raise err(400, "SecurityGroupRuleParameterConflict",
                      f"Conflicting value ethertype {ether} for CIDR {prefix}")
        prefix = str(net)
    return {"direction": direction, "ethertype": ether, "protocol": protocol,
            "portRangeMin": lo, "portRangeMax": hi, "remoteIpPrefix": prefix,
            "remoteGroupId": remote_group, "remoteAddressGroupId": None,
            "description": to_str("description", data.get("description", ""))}


_SAME = ("direction", "ethertype", "protocol", "portRangeMin", "portRangeMax",
         "remoteIpPrefix", "remoteGroupId")


async def rules_index(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    groups = await visible_groups(rt, c)
    defaults = {g["metadata"]["name"] for g in groups
                if g["metadata"]["name"] == nm.default_security_group_id(
                    g["metadata"]["namespace"])}
    rules = await rules_of(rt, groups)
    views = []
    for gid, rs in rules.items():
        views += [rule_view(r, gid if gid in defaults else None) for r in rs]
    return JSONResponse(list_response(request, "security_group_rules", views))


async def rules_show(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    rule = await find_owned(rt, c, nm.SECURITY_GROUP_RULE, request.path_params["rule_id"])
    view = rule_view(rule, nm.default_security_group_id(rule["metadata"]["namespace"]))
    return JSONResponse({"security_group_rule": select_fields(view, fields_of(request))})


async def rules_create(request: Request) -> Response:
    c = await caller(request)
    data = await body_of(request, "security_group_rule")
    check_keys(data, _RULE_CREATE)
    c.require_write("create_security_group_rule")
    rt = runtime(request)
    if not data.get("security_group_id"):
        raise bad_request("Failed to parse request. Required attribute 'security_group_id' "
                          "not specified")
    group = await find_group(rt, c, str(data["security_group_id"]))
    project = group["metadata"]["namespace"]
    if (data.get("project_id") or data.get("tenant_id")) and \
            check_project(c, data) != project and not c.is_admin:
        raise policy("create_security_group_rule")
    spec = parse_rule(data)
    gid = group["metadata"]["name"]
    spec["securityGroupId"] = gid
    if spec["remoteGroupId"] is not None:
        await find_group(rt, c, str(spec["remoteGroupId"]))
    existing = await rt.objects.list(nm.SECURITY_GROUP_RULE, project,
                                     label_selector=f"{nm.SG_LABEL}={gid}")
    for r in existing.items:
        if all(r["spec"].get(k) == spec.get(k) for k in _SAME):
            raise err(409, "SecurityGroupRuleExists",
                      f"Security group rule already exists. Rule id is "
                      f"{r['metadata']['name']}.")
    await check_quota(rt, c, project, "security_group_rule")
    rule = await rt.objects.create(new_object(nm.SECURITY_GROUP_RULE, project,
                                              str(uuid.uuid4()), spec, {nm.SG_LABEL: gid}))
    view = rule_view(rule, nm.default_security_group_id(project))
    return JSONResponse({"security_group_rule": view}, status_code=201)


async def rules_delete(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    rid = request.path_params["rule_id"]
    rule = await find_owned(rt, c, nm.SECURITY_GROUP_RULE, rid)
    if not c.can_write:
        raise policy("delete_security_group_rule")
    try:
        await rt.objects.delete(nm.SECURITY_GROUP_RULE, rule["metadata"]["namespace"], rid)
    except store.NotFound:
        raise not_found(nm.SECURITY_GROUP_RULE, rid) from None
    return Response(status_code=204)
