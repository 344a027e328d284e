"""Neutron's DNS integration as the domain sees it: the names ports and floating IPs
publish, and writing them as recordsets into their own project's zone.

    check_domain / check_dns_name   Neutron's 400s for ``dns_domain`` and ``dns_name``
    wanted_records                  {(fqdn, type): addresses} for one project and domain
    sync_zone                       the zone's kumo-made sets made equal to what is wanted

Records go only into a zone of the port's (or floating IP's) own project whose name is the
network's (or the floating IP's) ``dns_domain``; a set kumo made carries ``MARK`` as its
description, so the user's own sets are never touched. Writes go through
``dns_records`` as kumo, so every change bumps the zone's serial like any other.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kumo import store
from kumo.model import dns as dm

from . import dns_records as records
from . import dns_rules as rules
from .actor import Actor
from .errors import AlreadyExists, Invalid, NotFound

Obj = dict[str, Any]
MARK = "kumo: neutron dns-integration"
DEFAULT_DOMAIN = "openstacklocal."  # Neutron's dns_domain option (dns_assignment)
_NAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")


def check_domain(value: object) -> str:
    """``dns_domain`` of a network or floating IP: "" or an FQDN (a trailing dot)."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise Invalid(f"'{value}' is not a valid string", code="dns_domain")
    return rules.check_fqdn(value if value.endswith(".") else value + ".", "dns_domain")


def check_dns_name(value: object) -> str:
    """``dns_name`` of a port or floating IP: "" or a host name (not an FQDN)."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or len(value) > 63 or not _NAME.match(value.lower()) \
            or value.endswith("."):
        raise Invalid(f"'{value}' not a valid PQDN or FQDN. Reason: it must be a host name",
                      code="dns_name")
    return value.lower()


def assignment(spec: Obj) -> list[Obj]:
    """Neutron's ``dns_assignment``: the name each fixed address answers to."""
    out = []
    for f in spec.get("fixedIps") or []:
        ip = f["ipAddress"]
        host = spec.get("dnsName") or "host-" + ip.replace(".", "-").replace(":", "-")
        out.append({"hostname": host, "ip_address": ip,
                    "fqdn": f"{host}.{DEFAULT_DOMAIN}"})
    return out


def _rtype(address: str) -> str:
    return "AAAA" if ipaddress.ip_address(address).version == 6 else "A"


def wanted_records(domain: str, ports: list[Obj], networks: dict[str, Obj],
                   fips: list[Obj]) -> dict[tuple[str, str], list[str]]:
    """What one project's ports and floating IPs publish under ``domain``."""
    want: dict[tuple[str, str], set[str]] = {}
    for port in ports:
        spec = port["spec"]
        net = networks.get(spec.get("networkId") or "")
        if not spec.get("dnsName") or net is None or \
                (net["spec"].get("dnsDomain") or "") != domain:
            continue
        for f in spec.get("fixedIps") or []:
            key = (f"{spec['dnsName']}.{domain}", _rtype(f["ipAddress"]))
            want.setdefault(key, set()).add(f["ipAddress"])
    for fip in fips:
        spec = fip["spec"]
        if spec.get("dnsName") and spec.get("dnsDomain") == domain:
            key = (f"{spec['dnsName']}.{domain}", _rtype(spec["floatingIpAddress"]))
            want.setdefault(key, set()).add(spec["floatingIpAddress"])
    return {k: sorted(v, key=ipaddress.ip_address) for k, v in want.items()}


async def sync_zone(objects: store.ObjectStore, zone: Obj,
                    want: dict[tuple[str, str], list[str]]) -> int:
    """Create, update and delete kumo's sets of ``zone`` until they are ``want``; how
    many writes it took. A name the user already holds is left to the user."""
    actor = Actor.kumo(zone["metadata"]["namespace"])
    have = {(s["spec"]["name"], s["spec"]["type"]): s
            for s in await records.zone_sets(objects, zone)}
    writes = 0
    for key, addresses in want.items():
        cur = have.get(key)
        if cur is not None and cur["spec"].get("description") != MARK:
            continue  # the user's own recordset at that name
        zone = await objects.get(dm.DNS_ZONE, zone["metadata"]["namespace"],
                                 zone["metadata"]["name"])
        if cur is None:
            try:
                await records.create_recordset(objects, actor, zone, {
                    "name": key[0], "type": key[1], "records": addresses,
                    "description": MARK})
            except (AlreadyExists, Invalid):  # raced, or the name is in a child zone
                continue
        elif sorted(cur["spec"].get("records") or []) != sorted(addresses):
            await records.update_recordset(objects, actor, zone, cur["metadata"]["name"],
                                           {"records": addresses})
        else:
            continue
        writes += 1
    for key, cur in have.items():
        if key in want or cur["spec"].get("description") != MARK:
            continue
        zone = await objects.get(dm.DNS_ZONE, zone["metadata"]["namespace"],
                                 zone["metadata"]["name"])
        try:
            await records.delete_recordset(objects, actor, zone, cur["metadata"]["name"])
        except NotFound:
            continue
        writes += 1
    return writes
