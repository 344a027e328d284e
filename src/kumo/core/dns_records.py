"""Recordsets of a zone: create, update, delete, each ending in a serial bump.

Rules (Designate's): the name lies inside the zone and not inside a child zone; one
recordset per (name, type), claimed through ``names`` (scope = zone and type), so two
racing creates cannot both win; a CNAME stands alone at its name and never at the apex;
SOA and the apex NS are kumo's (managed); the zone's and each set's record counts are
limited by the project's quotas. The recordset is written before the serial is bumped,
so a transfer at the new serial always contains it.
"""

from __future__ import annotations

import uuid
from typing import Any

from kumo import store
from kumo.model import dns as dm

from . import dns as zones
from . import dns_rules as rules
from . import names
from .actor import Actor
from .errors import AlreadyExists, Forbidden, Invalid, NotFound, QuotaExceeded

Obj = dict[str, Any]


def claim_scope(zone_id: str, rtype: str) -> str:
    return f"{zone_id}/{rtype}"


async def zone_sets(objects: store.ObjectStore, zone: Obj) -> list[Obj]:
    md = zone["metadata"]
    return (await objects.list(dm.DNS_RECORDSET, md["namespace"],
                               label_selector=f"{dm.ZONE_LABEL}={md['name']}")).items


def _not_found(rs_id: str) -> NotFound:
    return NotFound("Could not find RecordSet", code="recordset_not_found")


async def get_recordset(objects: store.ObjectStore, zone: Obj, rs_id: str) -> Obj:
    found = await objects.try_get(dm.DNS_RECORDSET, zone["metadata"]["namespace"], rs_id)
    if found is None or found["spec"].get("zoneId") != zone["metadata"]["name"]:
        raise _not_found(rs_id)
    return found


async def _check_name(objects: store.ObjectStore, zone: Obj, name: str) -> None:
    zname = zone["spec"]["name"]
    if not rules.in_zone(name, zname):
        raise Invalid(f"RecordSet {name} is not inside zone {zname}",
                      code="invalid_recordset_location")
    labels = name[:-1].split(".")
    for i in range(0, len(labels) - len(zname[:-1].split("."))):
        child = ".".join(labels[i:]) + "."
        if await zones._zone_owner(objects, child) is not None:
            raise Invalid(f"RecordSet {name} belongs in the child zone {child}",
                          code="invalid_recordset_location")


def _check_cname(sets: list[Obj], zone: Obj, name: str, rtype: str, own: str = "") -> None:
    here = [s for s in sets if s["spec"]["name"] == name and s["metadata"]["name"] != own]
    if rtype == "CNAME" and name == zone["spec"]["name"]:
        raise Invalid("a CNAME cannot be at the zone's apex", code="invalid_recordset_location")
    if rtype == "CNAME" and here:
        raise Invalid(f"CNAME recordsets may not share a name with any other records "
                      f"({name} has {here[0]['spec']['type']})",
                      code="invalid_recordset_location")
    if any(s["spec"]["type"] == "CNAME" for s in here):
        raise Invalid(f"{name} has a CNAME, which must stand alone",
                      code="invalid_recordset_location")


def _check_counts(sets: list[Obj], limits: dict[str, int], adding_sets: int,
                  records_delta: int) -> None:
    user = [s for s in sets if not s["spec"].get("managed")]
    if 0 <= limits["zone_recordsets"] < len(user) + adding_sets:
        raise QuotaExceeded("Quota exceeded for zone_recordsets", resource="zone_recordsets",
                            code="over_quota")
    total = sum(len(s["spec"].get("records") or []) for s in user)
    if 0 <= limits["zone_records"] < total + records_delta:
        raise QuotaExceeded("Quota exceeded for zone_records", resource="zone_records",
                            code="over_quota")


def _mine(actor: Actor, zone: Obj, rs: Obj) -> None:
    """In a shared zone, a project other than the owner changes only its own recordsets."""
    if actor.is_admin or actor.system or zone["metadata"]["namespace"] == actor.project_id:
        return
    if rs["spec"].get("projectId") != actor.project_id:
        raise Forbidden("this recordset belongs to another project", rule="update_recordset")


async def create_recordset(objects: store.ObjectStore, actor: Actor, zone: Obj,
                           body: Obj) -> Obj:
    zones.owned(actor, zone, "create_recordset", shared_ok=True)
    project, zone_id = zone["metadata"]["namespace"], zone["metadata"]["name"]
    extra = sorted(set(body) - {"name", "type", "records", "ttl", "description", "zone_id"})
    if extra:
        raise Invalid(f"unknown attribute(s) {', '.join(extra)}", code="invalid_object")
    name = rules.check_fqdn(body.get("name"), "recordset")
    rtype = rules.check_type(body.get("type"))
    limits = await zones.limits(objects, project)
    records = rules.check_records(rtype, body.get("records"), limits["recordset_records"])
    ttl = rules.check_ttl(body.get("ttl"))
    description = rules.check_description(body.get("description"))
    await _check_name(objects, zone, name)
    sets = await zone_sets(objects, zone)
    _check_cname(sets, zone, name, rtype)
    if rtype == "NS" and name.startswith("*."):
        raise Invalid("an NS recordset cannot have a wildcard name", code="invalid_object")
    if rtype == "NS" and name == zone["spec"]["name"]:
        raise Invalid("the apex NS recordset is managed by kumo", code="bad_request")
    _check_counts(sets, limits, 1, len(records))
    rs_id = str(uuid.uuid4())
    spec = {"name": name, "type": rtype, "records": records, "ttl": ttl,
            "description": description, "managed": False,
            "projectId": actor.project_id or project}
    obj = zones.recordset_object(project, zone_id, rs_id, spec)
    try:
        created = await names.create_unique(objects, obj, claim_scope(zone_id, rtype))
    except AlreadyExists:
        raise AlreadyExists(f"Duplicate RecordSet {name} {rtype}",
                            code="duplicate_recordset") from None
    await zones.bump_serial(objects, zone, records_revision=zones.revision_of(created))
    return created


async def update_recordset(objects: store.ObjectStore, actor: Actor, zone: Obj, rs_id: str,
                           body: Obj) -> Obj:
    zones.owned(actor, zone, "update_recordset", shared_ok=True)
    rs = await get_recordset(objects, zone, rs_id)
    _mine(actor, zone, rs)
    if rs["spec"].get("managed"):
        raise Invalid("managed recordsets (SOA, apex NS) are kumo's", code="bad_request")
    same = {k for k in ("name", "type") if k in body and str(body[k]).lower() ==
            str(rs["spec"][k]).lower()}  # a full body naming the set itself
    extra = sorted(set(body) - {"records", "ttl", "description"} - same)
    if extra:
        raise Invalid(f"{', '.join(extra)} cannot be changed on a recordset",
                      code="invalid_object")
    change: Obj = {}
    limits = await zones.limits(objects, zone["metadata"]["namespace"])
    if "records" in body:
        change["records"] = rules.check_records(rs["spec"]["type"], body["records"],
                                                limits["recordset_records"])
        sets = await zone_sets(objects, zone)
        _check_counts(sets, limits, 0,
                      len(change["records"]) - len(rs["spec"].get("records") or []))
    if "ttl" in body:
        change["ttl"] = rules.check_ttl(body["ttl"])
    if "description" in body:
        change["description"] = rules.check_description(body["description"])
    md = rs["metadata"]
    updated = await objects.mutate(dm.DNS_RECORDSET, md["namespace"], md["name"],
                                   lambda cur: cur["spec"].update(change))
    await zones.bump_serial(objects, zone, records_revision=zones.revision_of(updated))
    return updated


async def delete_recordset(objects: store.ObjectStore, actor: Actor, zone: Obj,
                           rs_id: str) -> Obj:
    zones.owned(actor, zone, "delete_recordset", shared_ok=True)
    rs = await get_recordset(objects, zone, rs_id)
    _mine(actor, zone, rs)
    if rs["spec"].get("managed"):
        raise Forbidden("managed recordsets (SOA, apex NS) are kumo's",
                        rule="delete_recordset")
    md = rs["metadata"]
    try:
        gone = await objects.delete(dm.DNS_RECORDSET, md["namespace"], md["name"])
    except store.NotFound:
        raise _not_found(rs_id) from None
    await names.release(objects, dm.DNS_RECORDSET, claim_scope(zone["metadata"]["name"],
                                                               rs["spec"]["type"]),
                        rs["spec"]["name"], rs_id)
    await zones.bump_serial(objects, zone, records_revision=zones.revision_of(gone))
    return rs
