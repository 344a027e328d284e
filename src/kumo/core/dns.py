"""DNS zones as the domain sees them (Designate's rules, for every caller alike).

    create_zone   name checked, claimed unique (``names``), counted (``quotas``), refused
                  under another project's zone or above one; SOA and NS recordsets made
    update_zone   email/ttl/description; the serial is bumped
    delete_zone   recordsets, then the zone; its name claim and quota share freed
    bump_serial   every change to a zone or its recordsets ends here (CAS on the zone)

A zone's ``status`` is never written here: the serving controller (``control/dns.py``)
owns it and compares the store's serial with what each target serves. Recordsets live
in ``dns_records``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from kumo import store
from kumo.model import compute as cm
from kumo.model import dns as dm
from kumo.model.names import NAME_CLAIM

from . import dns_admin, names, quotas
from . import dns_rules as rules
from .actor import Actor
from .errors import AlreadyExists, Forbidden, Invalid, NotFound

Obj = dict[str, Any]
DNS = "dns"
NAMESERVERS = ("ns1.kumo.test.",)  # the NS records of every zone (the pool's name servers)
POOL_ID = "794ccc2c-d751-44fe-b57f-8894c9f5c842"  # Designate's default pool id
quotas.COUNTED.setdefault(DNS, {dm.DNS_ZONE: quotas._one("zones")})


def new_serial(old: int = 0) -> int:
    """Time-based like Designate's, and always larger than the last one."""
    return max(int(old) + 1, int(time.time()))


def soa_text(zone: Obj) -> str:
    """The zone's SOA rdata, from its spec (the serial is the store's): one rendering for
    the API, zone exports and transfers."""
    z = zone["spec"]
    return rules.soa_text(z["name"], z.get("email") or "hostmaster@kumo.test",
                          int(z["serial"]), int(z.get("refresh", 3600)),
                          int(z.get("retry", 600)), int(z.get("expire", 86400)),
                          int(z.get("minimum", 3600)), NAMESERVERS[0])


async def limits(objects: store.ObjectStore, project: str) -> dict[str, int]:
    found = await objects.try_get(cm.QUOTA_SET, project, dm.QUOTA_NAME)
    overrides = (found or {}).get("spec") or {}
    return {k: int(overrides.get(k, v)) for k, v in dm.QUOTA_DEFAULTS.items()}


def _owner_of(claim: Obj | None) -> str | None:
    return None if claim is None else str(claim["spec"].get("ownerNamespace") or "")


async def _zone_owner(objects: store.ObjectStore, name: str) -> str | None:
    """The project holding zone ``name`` (by its name claim), None if no zone has it."""
    claim = await objects.try_get(NAME_CLAIM, "", names.claim_name(dm.DNS_ZONE, "", name))
    return _owner_of(claim)


async def check_placement(objects: store.ObjectStore, actor: Actor, name: str,
                          privileged: bool = False) -> None:
    """No zone inside another project's zone, none above another project's zone."""
    labels = name[:-1].split(".")
    for i in range(1, len(labels)):
        parent = ".".join(labels[i:]) + "."
        owner = await _zone_owner(objects, parent)
        if owner is not None and owner != actor.project_id and not actor.system:
            raise Forbidden(f"zone {name} is inside {parent}, which another project owns",
                            rule="create_zone", code="illegal_child")
    for zone in (await objects.list(dm.DNS_ZONE, None)).items:
        zname = zone["spec"]["name"]
        if zname.endswith("." + name) and zone["metadata"]["namespace"] != actor.project_id:
            raise Forbidden(f"another project owns {zname}, a zone inside {name}",
                            rule="create_zone", code="illegal_parent")
    await dns_admin.check_zone_name(objects, actor, name, privileged)


def _ttl(value: object) -> int:
    ttl = rules.check_ttl(value)
    return 3600 if ttl is None else ttl


def zone_object(project: str, zone_id: str, spec: Obj) -> Obj:
    return {"apiVersion": "kumo.io/v1", "kind": dm.DNS_ZONE,
            "metadata": {"name": zone_id, "namespace": project},
            "spec": spec, "status": {"status": "PENDING", "action": "CREATE"}}


def recordset_object(project: str, zone_id: str, rs_id: str, spec: Obj) -> Obj:
    return {"apiVersion": "kumo.io/v1", "kind": dm.DNS_RECORDSET,
            "metadata": {"name": rs_id, "namespace": project,
                         "labels": {dm.ZONE_LABEL: zone_id}},
            "spec": {"zoneId": zone_id, **spec}}


async def create_zone(objects: store.ObjectStore, actor: Actor, body: Obj, *,
                      privileged: bool = False) -> Obj:
    """A PRIMARY zone with its SOA and NS recordsets; the zone as stored. ``privileged``:
    the caller is an admin acting in its own project (blacklists do not apply)."""
    actor.require_write("create_zone")
    project = actor.project_id or ""
    name = rules.check_fqdn(body.get("name"), "zone", zone=True)
    ztype = str(body.get("type") or "PRIMARY").upper()
    if ztype != "PRIMARY":
        raise Invalid("only PRIMARY zones are served by kumo", code="invalid_object")
    spec = {"name": name, "email": rules.check_email(body.get("email")),
            "ttl": _ttl(body.get("ttl")),
            "description": rules.check_description(body.get("description")),
            "type": ztype, "serial": new_serial(), "poolId": POOL_ID,
            "attributes": {str(k): str(v) for k, v in (body.get("attributes") or {}).items()}}
    await check_placement(objects, actor, name, privileged)
    zone_id = str(uuid.uuid4())
    await quotas.claim(objects, project, DNS, {zone_id: {"zones": 1}},
                       await limits(objects, project))
    try:
        zone = await names.create_unique(objects, zone_object(project, zone_id, spec), "")
    except AlreadyExists:
        await quotas.release(objects, project, DNS, [zone_id])
        raise AlreadyExists(f"Duplicate Zone {name}", code="duplicate_zone") from None
    except BaseException:
        await quotas.release(objects, project, DNS, [zone_id])
        raise
    await _managed_sets(objects, project, zone_id, name, spec["ttl"])
    return zone


async def _managed_sets(objects: store.ObjectStore, project: str, zone_id: str, name: str,
                        ttl: int) -> None:
    for rtype, records in (("SOA", []), ("NS", list(NAMESERVERS))):
        rs_id = str(uuid.uuid5(uuid.UUID(zone_id), rtype))
        spec = {"name": name, "type": rtype, "records": records, "ttl": ttl, "managed": True}
        try:
            await objects.create(recordset_object(project, zone_id, rs_id, spec))
        except store.AlreadyExists:
            pass


async def get_zone(objects: store.ObjectStore, actor: Actor, zone_id: str) -> Obj:
    """The zone if the actor sees it (its own, an admin, or shared with its project)."""
    found = None
    if actor.project_id:
        found = await objects.try_get(dm.DNS_ZONE, actor.project_id, zone_id)
    found = found or await _find(objects, zone_id)
    if found is None or not visible(actor, found):
        raise NotFound("Could not find Zone", code="zone_not_found")
    return found


async def _find(objects: store.ObjectStore, zone_id: str) -> Obj | None:
    """A zone by id whatever its project (ids are unique UUIDs)."""
    try:
        uuid.UUID(zone_id)
    except ValueError:
        return None
    hits = (await objects.list(dm.DNS_ZONE, None)).items
    return next((z for z in hits if z["metadata"]["name"] == zone_id), None)


def visible(actor: Actor, zone: Obj) -> bool:
    return actor.sees(zone["metadata"]["namespace"]) or (
        actor.project_id in (zone["spec"].get("sharedWith") or []))


def owned(actor: Actor, zone: Obj, rule: str, *, shared_ok: bool = False) -> None:
    """Writes are the owner's (or an admin's); a project the zone is shared with may write
    recordsets (``shared_ok``), never the zone."""
    actor.require_write(rule)
    if actor.is_admin or actor.system or zone["metadata"]["namespace"] == actor.project_id:
        return
    if actor.project_id in (zone["spec"].get("sharedWith") or []):
        if shared_ok:
            return
        raise Forbidden(f"zone {zone['spec']['name']} is shared with your project, not "
                        "owned by it", rule=rule)
    raise NotFound("Could not find Zone", code="zone_not_found")


def share_id(zone_id: str, project: str) -> str:
    return str(uuid.uuid5(uuid.UUID(zone_id), f"share:{project}"))


async def share(objects: store.ObjectStore, actor: Actor, zone: Obj, target: object) -> Obj:
    """Share the zone with ``target`` (a project id); idempotent."""
    owned(actor, zone, "share_zone")
    if not isinstance(target, str) or not target or target == zone["metadata"]["namespace"]:
        raise Invalid("target_project_id must be another project's id", code="invalid_object")
    md = zone["metadata"]

    def add(cur: Obj) -> Any:
        have = list(cur["spec"].get("sharedWith") or [])
        if target in have:
            return store.UNCHANGED
        cur["spec"]["sharedWith"] = [*have, target]
        return None

    return await objects.mutate(dm.DNS_ZONE, md["namespace"], md["name"], add)


async def unshare(objects: store.ObjectStore, actor: Actor, zone: Obj, sid: str) -> None:
    owned(actor, zone, "unshare_zone")
    md = zone["metadata"]
    targets = [p for p in zone["spec"].get("sharedWith") or []
               if share_id(md["name"], p) == sid]
    if not targets:
        raise NotFound("Could not find SharedZone", code="shared_zone_not_found")
    await objects.mutate(dm.DNS_ZONE, md["namespace"], md["name"], lambda cur: cur[
        "spec"].update(sharedWith=[p for p in cur["spec"].get("sharedWith") or []
                                   if p not in targets]))


def revision_of(obj: Obj) -> int:
    return int(obj["metadata"].get("resourceVersion") or 0)


async def bump_serial(objects: store.ObjectStore, zone: Obj, change: Obj | None = None,
                      records_revision: int = 0) -> Obj:
    """The zone with a new serial (and ``change`` applied to its spec). A recordset write
    passes its revision: the transfer source's watch-fed copy of the recordsets must have
    seen it before it serves the new serial (else it reads the store)."""
    def apply(current: Obj) -> None:
        current["spec"].update(change or {})
        current["spec"]["serial"] = new_serial(current["spec"].get("serial") or 0)
        if records_revision:
            current["spec"]["recordsRevision"] = max(
                int(current["spec"].get("recordsRevision") or 0), records_revision)

    md = zone["metadata"]
    return await objects.mutate(dm.DNS_ZONE, md["namespace"], md["name"], apply)


async def update_zone(objects: store.ObjectStore, actor: Actor, zone_id: str,
                      body: Obj) -> Obj:
    zone = await get_zone(objects, actor, zone_id)
    owned(actor, zone, "update_zone")
    allowed = {"email", "ttl", "description"}
    extra = sorted(set(body) - allowed)
    if extra:
        raise Invalid(f"{', '.join(extra)} cannot be changed on a zone", code="invalid_object")
    change: Obj = {}
    if "email" in body:
        change["email"] = rules.check_email(body["email"])
    if "ttl" in body:
        change["ttl"] = _ttl(body["ttl"])
    if "description" in body:
        change["description"] = rules.check_description(body["description"])
    return await bump_serial(objects, zone, change)


async def delete_zone(objects: store.ObjectStore, actor: Actor, zone_id: str) -> Obj:
    """Recordsets first, then the zone; the zone as it was."""
    zone = await get_zone(objects, actor, zone_id)
    owned(actor, zone, "delete_zone")
    project = zone["metadata"]["namespace"]
    for rs in (await objects.list(dm.DNS_RECORDSET, project,
                                  label_selector=f"{dm.ZONE_LABEL}={zone_id}")).items:
        try:
            await objects.delete(dm.DNS_RECORDSET, project, rs["metadata"]["name"])
        except store.NotFound:
            pass
    try:
        await objects.delete(dm.DNS_ZONE, project, zone_id)
    except store.NotFound:
        raise NotFound("Could not find Zone", code="zone_not_found") from None
    await names.release(objects, dm.DNS_ZONE, "", zone["spec"]["name"], zone_id)
    await quotas.release(objects, project, DNS, [zone_id])
    return zone

