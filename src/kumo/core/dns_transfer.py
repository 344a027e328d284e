"""Zone transfers between projects (Designate's transfer requests and accepts).

A request (a ``DnsZoneTask``, task ``transfer_request``, in the zone owner's project)
carries a random key and optionally the one project allowed to accept. Accepting moves
the zone: it is counted in the new project's quota, recreated there with its recordsets
(same ids), its name claims are handed to the new project, then the old copies are
deleted and the old project's quota share released. The serial is bumped, so the
secondaries see one more change and nothing else (the zone name never stops resolving).
"""

from __future__ import annotations

import copy
import secrets
import uuid
from typing import Any

from kumo import store
from kumo.model import dns as dm
from kumo.model.names import NAME_CLAIM

from . import dns as zones
from . import dns_records as records
from . import names, quotas
from .actor import Actor
from .errors import Forbidden, Invalid, NotFound

Obj = dict[str, Any]


def task_object(project: str, task_id: str, spec: Obj) -> Obj:
    return {"apiVersion": "kumo.io/v1", "kind": dm.DNS_TASK,
            "metadata": {"name": task_id, "namespace": project}, "spec": spec}


async def create_request(objects: store.ObjectStore, actor: Actor, zone: Obj,
                         body: Obj) -> Obj:
    zones.owned(actor, zone, "create_zone_transfer_request")
    target = body.get("target_project_id")
    if target is not None and not isinstance(target, str):
        raise Invalid("target_project_id must be a project id", code="invalid_object")
    spec = {"task": "transfer_request", "status": "ACTIVE",
            "zoneId": zone["metadata"]["name"], "zoneName": zone["spec"]["name"],
            "key": secrets.token_hex(8).upper()[:8], "targetProjectId": target,
            "description": body.get("description")}
    return await objects.create(task_object(zone["metadata"]["namespace"],
                                            str(uuid.uuid4()), spec))


async def find_request(objects: store.ObjectStore, actor: Actor, request_id: str) -> Obj:
    """A request visible to the actor: its owner's, or one offered to the actor's project
    (or to anyone)."""
    for task in (await objects.list(dm.DNS_TASK, None)).items:
        if task["metadata"]["name"] != request_id or task["spec"]["task"] != "transfer_request":
            continue
        spec = task["spec"]
        if actor.sees(task["metadata"]["namespace"]) or spec.get("targetProjectId") in (
                None, actor.project_id):
            return task
    raise NotFound("Could not find ZoneTransferRequest",
                   code="zone_transfer_request_not_found")


async def accept(objects: store.ObjectStore, actor: Actor, body: Obj) -> Obj:
    """The accept record (COMPLETE) once the zone is the actor's project's."""
    actor.require_write("create_zone_transfer_accept")
    req = await find_request(objects, actor, str(body.get("zone_transfer_request_id") or ""))
    spec = req["spec"]
    if body.get("key") != spec.get("key") or spec.get("status") != "ACTIVE":
        raise Forbidden("the transfer key is wrong or the request is used",
                        rule="create_zone_transfer_accept")
    new = actor.project_id or ""
    old = req["metadata"]["namespace"]
    zone = await objects.get(dm.DNS_ZONE, old, spec["zoneId"])
    if new != old:
        await _move(objects, zone, new)
    await objects.mutate(dm.DNS_TASK, old, req["metadata"]["name"],
                         lambda cur: cur["spec"].update(status="COMPLETE"))
    return await objects.create(task_object(new, str(uuid.uuid4()), {
        "task": "transfer_accept", "status": "COMPLETE", "zoneId": spec["zoneId"],
        "zoneName": spec["zoneName"], "key": spec["key"],
        "requestId": req["metadata"]["name"]}))


def _copy(obj: Obj, project: str) -> Obj:
    out = copy.deepcopy(obj)
    md = out["metadata"]
    out["metadata"] = {"name": md["name"], "namespace": project,
                       "labels": md.get("labels") or {}}
    return out


async def _move(objects: store.ObjectStore, zone: Obj, new: str) -> None:
    old, zid = zone["metadata"]["namespace"], zone["metadata"]["name"]
    await quotas.claim(objects, new, zones.DNS, {zid: {"zones": 1}},
                       await zones.limits(objects, new))
    sets = await records.zone_sets(objects, zone)
    last = 0
    for rs in sets:
        try:
            last = max(last, zones.revision_of(await objects.create(_copy(rs, new))))
        except store.AlreadyExists:
            pass
    await objects.create(_copy(zone, new))
    await _reclaim(objects, dm.DNS_ZONE, "", zone["spec"]["name"], new)
    for rs in sets:
        if not rs["spec"].get("managed"):
            await _reclaim(objects, dm.DNS_RECORDSET,
                           records.claim_scope(zid, rs["spec"]["type"]), rs["spec"]["name"], new)
        gone = await objects.delete(dm.DNS_RECORDSET, old, rs["metadata"]["name"])
        last = max(last, zones.revision_of(gone))
    await objects.delete(dm.DNS_ZONE, old, zid)
    await quotas.release(objects, old, zones.DNS, [zid])
    await zones.bump_serial(objects, await objects.get(dm.DNS_ZONE, new, zid),
                            records_revision=last)


async def _reclaim(objects: store.ObjectStore, kind: str, scope: str, name: str,
                   project: str) -> None:
    """The name claim now names the object in its new project."""
    try:
        await objects.mutate(NAME_CLAIM, "", names.claim_name(kind, scope, name),
                             lambda cur: cur["spec"].update(ownerNamespace=project))
    except store.NotFound:
        pass
