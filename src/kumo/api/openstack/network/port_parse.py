"""Neutron's port request bodies as the core's typed requests (``PortRequest``,
``PortUpdate``): attribute names, value types and binding policy are checked here;
everything that needs the store (network, subnets, groups, claims) is the core's."""

from __future__ import annotations

import ipaddress
from typing import Any

from kumo.core import ipam
from kumo.core.dns_neutron import check_dns_name
from kumo.core.errors import DomainError
from kumo.core.ports import FixedIp, PortRequest, PortUpdate

from .common import Caller, check_keys, check_project, to_bool, to_str, to_tags, unique_list
from .errors import bad_request, err, invalid, policy

Obj = dict[str, Any]
MAX_ADDRESS_PAIRS = 10
CREATE_KEYS = {"name", "description", "network_id", "mac_address", "fixed_ips", "device_id",
               "device_owner", "admin_state_up", "security_groups", "allowed_address_pairs",
               "port_security_enabled", "tags", "project_id", "tenant_id", "binding:host_id",
               "binding:vnic_type", "binding:profile", "dns_name"}
UPDATE_KEYS = {"name", "description", "fixed_ips", "device_id", "device_owner",
               "admin_state_up", "security_groups", "allowed_address_pairs",
               "port_security_enabled", "binding:host_id", "binding:vnic_type",
               "binding:profile", "dns_name"}
READ_ONLY = {"id", "network_id", "project_id", "tenant_id", "status", "mac_address",
             "binding:vif_type", "binding:vif_details", "tags", "dns_assignment"}
_TEXT = (("name", "name"), ("description", "description"), ("device_id", "deviceId"),
         ("device_owner", "deviceOwner"))


def parse_fixed_ips(value: Any) -> list[FixedIp]:
    """The shape of a fixed_ips request; which subnet an address means is the core's."""
    if not isinstance(value, list):
        raise invalid(f"Invalid input for fixed_ips. Reason: '{value}' is not a list.")
    out: list[FixedIp] = []
    for entry in value:
        if not isinstance(entry, dict) or not set(entry) <= {"subnet_id", "ip_address"}:
            raise invalid(f"Invalid input for fixed_ips. Reason: '{entry}' is not a valid "
                          "fixed IP request.")
        sid, ip = entry.get("subnet_id"), entry.get("ip_address")
        if ip is not None:
            try:
                ip = str(ipaddress.ip_address(ip))
            except (ValueError, TypeError) as exc:
                raise invalid(f"Invalid input for fixed_ips. Reason: '{ip}' is not a valid "
                              "IP address.") from exc
        out.append(FixedIp(None if sid is None else str(sid), ip))
    return out


def _pair(pair: Any) -> Obj:
    if not isinstance(pair, dict) or "ip_address" not in pair or \
            not set(pair) <= {"ip_address", "mac_address"}:
        raise err(400, "AllowedAddressPairsMissingIP", "AllowedAddressPair must contain ip_address")
    try:
        ip = str(ipaddress.ip_network(pair["ip_address"], strict=False))
    except (ValueError, TypeError) as exc:
        raise invalid(f"Invalid input for allowed_address_pairs. Reason: "
                      f"'{pair['ip_address']}' is not a valid IP address.") from exc
    if ip.endswith("/32"):
        ip = ip[:-3]
    return {"ipAddress": ip, "macAddress": ipam.normalise_mac(pair["mac_address"])
            if pair.get("mac_address") else None}


def parse_pairs(value: Any) -> list[Obj]:
    return unique_list(
        "allowed_address_pairs", value, _pair,
        lambda rec: err(400, "DuplicateAddressPairInRequest",
                        f"Request contains duplicate address pair: mac_address "
                        f"{rec['macAddress']} ip_address {rec['ipAddress']}."),
        MAX_ADDRESS_PAIRS,
        lambda: err(400, "AllowedAddressPairExhausted",
                    f"The number of allowed address pair exceeds the maximum "
                    f"{MAX_ADDRESS_PAIRS}."))


def parse_groups(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise invalid(f"Invalid input for security_groups. Reason: '{value}' is not a list.")
    return [str(g) for g in value]


def _text(name: str, value: Any) -> str:
    """A string attribute given in the body: ``null`` is not a string (Neutron: 400)."""
    if value is None:
        raise invalid(f"Invalid input for {name}. Reason: 'None' is not a valid string.")
    return to_str(name, value)


def parse_mac(value: Any) -> str:
    """A MAC given in the body: ``""``, ``null`` and non-strings are not MACs (400)."""
    if not isinstance(value, str) or not value:
        raise invalid(f"Invalid input for mac_address. Reason: '{value}' is not a valid MAC "
                      "address.")
    return ipam.normalise_mac(value)


def _none_is_empty(value: Any) -> Any:
    """Neutron's ``convert_none_to_empty_list`` (security groups, address pairs)."""
    return [] if value is None else value


def dns_name(value: Any) -> str:
    """dns-integration's ``dns_name`` (400 when it is no host name)."""
    try:
        return check_dns_name(value)
    except DomainError as exc:
        raise invalid(f"Invalid input for dns_name. Reason: {exc}") from None


def check_binding(c: Caller, data: Obj, action: str) -> None:
    for key in ("binding:host_id", "binding:profile"):
        if key in data and not c.is_admin:
            raise policy(f"{action}_port:{key}")
    if data.get("binding:profile") not in (None, {}):
        raise invalid("binding:profile is not supported by kumo.")
    vnic = data.get("binding:vnic_type")
    if vnic not in (None, "normal"):
        raise invalid(f"Invalid input for binding:vnic_type. Reason: {vnic} is not in "
                      "['normal'].")


def parse_create(c: Caller, data: Obj) -> PortRequest:
    """POST /v2.0/ports's body as a PortRequest (Neutron's 400s and binding policy)."""
    check_keys(data, CREATE_KEYS)
    c.require_write("create_port")
    project = check_project(c, data)
    if not data.get("network_id"):
        raise bad_request("Failed to parse request. Required attribute 'network_id' not "
                          "specified")
    check_binding(c, data, "create")
    host = data.get("binding:host_id") or None
    if not isinstance(data["network_id"], str):
        raise invalid(f"Invalid input for network_id. Reason: '{data['network_id']}' is not "
                      "a valid UUID.")
    text = {f: _text(k, data[k]) if k in data else "" for k, f in _TEXT}
    return PortRequest(
        network_id=data["network_id"], project=project, name=text["name"],
        description=text["description"], device_id=text["deviceId"],
        device_owner=text["deviceOwner"],
        admin_state_up=to_bool("admin_state_up", data.get("admin_state_up", True)),
        mac_address=parse_mac(data["mac_address"]) if "mac_address" in data else None,
        fixed_ips=parse_fixed_ips(data["fixed_ips"]) if "fixed_ips" in data else None,
        security_groups=parse_groups(_none_is_empty(data["security_groups"]))
        if "security_groups" in data else None,
        allowed_address_pairs=parse_pairs(_none_is_empty(data.get("allowed_address_pairs"))),
        port_security_enabled=to_bool("port_security_enabled", data["port_security_enabled"])
        if "port_security_enabled" in data else None,
        tags=to_tags(data.get("tags", [])),
        binding_host_id=to_str("binding:host_id", host) if host else None,
        dns_name=dns_name(data.get("dns_name")))


def parse_update(c: Caller, port: Obj, data: Obj) -> PortUpdate:
    """PUT /v2.0/ports/{id}'s body as a PortUpdate (read-only attributes refused)."""
    for ro in sorted(READ_ONLY & set(data)):
        if ro == "mac_address" and data[ro] == port["spec"]["macAddress"]:
            continue
        raise bad_request(f"Cannot update read-only attribute {ro}")
    check_keys(data, UPDATE_KEYS | {"mac_address"})
    if not c.system and (not c.can_write or not c.sees(port)):
        raise policy("update_port")
    check_binding(c, data, "update")
    spec: Obj = {f: _text(k, data[k]) for k, f in _TEXT if k in data}
    if "admin_state_up" in data:
        spec["adminStateUp"] = to_bool("admin_state_up", data["admin_state_up"])
    if "binding:host_id" in data:
        spec["bindingHostId"] = to_str("binding:host_id", data["binding:host_id"]) or None
    if "port_security_enabled" in data:
        spec["portSecurityEnabled"] = to_bool("port_security_enabled",
                                              data["port_security_enabled"])
    if "dns_name" in data:
        spec["dnsName"] = dns_name(data["dns_name"])
    if "allowed_address_pairs" in data:
        spec["allowedAddressPairs"] = parse_pairs(_none_is_empty(data["allowed_address_pairs"]))
    return PortUpdate(
        spec=spec,
        security_groups=parse_groups(_none_is_empty(data["security_groups"]))
        if "security_groups" in data else None,
        fixed_ips=parse_fixed_ips(data["fixed_ips"]) if "fixed_ips" in data else None)
