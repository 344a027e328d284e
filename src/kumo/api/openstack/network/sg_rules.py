"""Security group rules: /v2.0/security-group-rules, and the validation of a rule
(protocols, port ranges, ICMP type/code, remote prefix or group) as Neutron does it."""

from __future__ import annotations

import ipaddress
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.core import names
from kumo.core.errors import AlreadyExists
from kumo.model import network as nm

from ...runtime import runtime
from .common import (
    caller,
    check_project,
    claim_quota,
    create_request,
    find_owned,
    new_object,
    release_quota,
    to_str,
)
from .errors import bad_request, err, invalid, not_found, policy
from .lists import list_response, shown
from .secgroups import find_group, rule_view, rules_of, visible_groups

Obj = dict[str, Any]
PROTOCOLS = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "icmp": 1, "icmpv6": 58,
             "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
             "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113,
             "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
             "any": None}
PORT_PROTOCOLS = {"tcp", "udp", "dccp", "sctp", "udplite", "6", "17", "33", "132", "136"}
ICMP = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}
_RULE_CREATE = {"security_group_id", "direction", "ethertype", "protocol", "port_range_min",
                "port_range_max", "remote_ip_prefix", "remote_group_id",
                "remote_address_group_id", "description", "project_id", "tenant_id"}





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


def _port_range(protocol: str | None, lo: int | None, hi: int | None
                ) -> tuple[int | None, int | None]:
    """port_range_min/max as the protocol allows them (ports, ICMP type/code, or none)."""
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
    return lo, hi


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
    lo, hi = _port_range(protocol, _port("port_range_min", data.get("port_range_min")),
                         _port("port_range_max", data.get("port_range_max")))
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


async def index(request: Request) -> Response:
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


async def show(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    rule = await find_owned(rt, c, nm.SECURITY_GROUP_RULE, request.path_params["rule_id"])
    view = rule_view(rule, nm.default_security_group_id(rule["metadata"]["namespace"]))
    return shown(request, "security_group_rule", view)


async def create(request: Request) -> Response:
    c, data = await create_request(request, "security_group_rule", _RULE_CREATE)
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
    for r in existing.items:  # rules made before claims, and the default group's own
        if all(r["spec"].get(k) == spec.get(k) for k in _SAME):
            raise _exists(r["metadata"]["name"])
    rid = str(uuid.uuid4())
    await _claim_rule(rt, gid, spec, rid, project)
    try:
        await claim_quota(rt, c, project, "security_group_rule", [rid])
    except BaseException:
        await names.release(rt.objects, nm.SECURITY_GROUP_RULE, gid, _rule_key(spec), rid)
        raise
    try:
        rule = await rt.objects.create(new_object(nm.SECURITY_GROUP_RULE, project, rid, spec,
                                                  {nm.SG_LABEL: gid}))
    except BaseException:
        await release_quota(rt, project, [rid])
        await names.release(rt.objects, nm.SECURITY_GROUP_RULE, gid, _rule_key(spec), rid)
        raise
    view = rule_view(rule, nm.default_security_group_id(project))
    return JSONResponse({"security_group_rule": view}, status_code=201)


async def delete(request: Request) -> Response:
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
    await release_quota(rt, rule["metadata"]["namespace"], [rid])
    await names.release(rt.objects, nm.SECURITY_GROUP_RULE, rule["spec"]["securityGroupId"],
                        _rule_key(rule["spec"]), rid)
    return Response(status_code=204)


def _rule_key(spec: dict[str, Any]) -> str:
    """What makes two rules of one group the same rule (Neutron's duplicate check)."""
    return json.dumps([spec.get(k) for k in _SAME], separators=(",", ":"))


def _exists(rule_id: str) -> Exception:
    return err(409, "SecurityGroupRuleExists",
               f"Security group rule already exists. Rule id is {rule_id}.")


async def _claim_rule(rt: Any, gid: str, spec: dict[str, Any], rid: str, project: str) -> None:
    """The rule key claimed in the store, so of racing identical creates exactly one wins."""
    key = _rule_key(spec)
    try:
        await names.claim(rt.objects, nm.SECURITY_GROUP_RULE, gid, key, rid,
                          owner_namespace=project)
    except AlreadyExists:
        held = await rt.objects.try_get(names.NAME_CLAIM, "",
                                        names.claim_name(nm.SECURITY_GROUP_RULE, gid, key))
        raise _exists((held or {}).get("spec", {}).get("owner", "")) from None
