"""Counted quota claims: one compare-and-swap on a per-project usage object.

Counting objects before a create (list, compare, create) lets twenty concurrent
creates all pass a check made before any of them is written. Here a project's usage
of one service lives in one ``QuotaUsage`` object (namespace = project, name =
service, "compute" or "network"), holding one entry per counted object:

    spec.holders[<object name>] = {"d": {<resource>: amount, ...}, "at": <claimed, epoch s>}

A create claims its entry *before* writing the object (``claim``: the limit is judged
on the fresh usage inside ``ObjectStore.mutate``, so of racing creates exactly the
ones that fit win); a failed create and every delete ``release`` it (idempotent: a
second release of one name changes nothing). Usage is the sum of the entries.

Drift (a crash between claim and create, an object deleted by a path that does not
release, such as the garbage collector or an admin's native delete) is repaired by
``reconcile``: entries are recomputed from the objects that exist, keeping entries
younger than ``GRACE`` whose object is not written yet (a create in flight). kumo runs
it once at start and every ``INTERVAL`` seconds (``reconcile_forever``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from kumo import store
from kumo.model import compute as cm
from kumo.model import network as nm

from .errors import ConcurrentChange, QuotaExceeded

Obj = dict[str, Any]
Deltas = dict[str, int]
Want = dict[str, Deltas] | Callable[[Deltas], dict[str, Deltas]]
GRACE = 120.0  # an entry without its object is kept this long (its create may be in flight)
INTERVAL = 60.0
ATTEMPTS = 400  # twenty racing creates must all get an answer, not a lost race
COMPUTE, NETWORK = "compute", "network"
log = logging.getLogger(__name__)


def _server(obj: Obj) -> Deltas | None:
    if obj["metadata"].get("deletionTimestamp"):
        return None
    flavor = (obj.get("spec") or {}).get("flavor") or {}
    return {"instances": 1, "cores": int(flavor.get("vcpus", 0)),
            "ram": int(flavor.get("ram", 0))}


def _one(resource: str) -> Callable[[Obj], Deltas | None]:
    return lambda obj: None if obj["metadata"].get("deletionTimestamp") else {resource: 1}


# service -> counted kind -> what one object of it uses
COUNTED: dict[str, dict[str, Callable[[Obj], Deltas | None]]] = {
    COMPUTE: {cm.SERVER: _server, cm.SERVER_GROUP: _one("server_groups")},
    NETWORK: {kind: _one(res) for res, kind in nm.QUOTA_KINDS.items()},
}


def deltas_of(service: str, obj: Obj) -> Deltas | None:
    """What ``obj`` uses of ``service``'s quotas (None: it does not count)."""
    count = COUNTED[service].get(str(obj.get("kind")))
    return count(obj) if count else None


def used_of(usage: Obj | None) -> Deltas:
    """The sums of a QuotaUsage's entries."""
    total: Deltas = {}
    for entry in (((usage or {}).get("spec") or {}).get("holders") or {}).values():
        for key, n in (entry.get("d") or {}).items():
            total[key] = total.get(key, 0) + int(n)
    return total


async def usage(objects: store.ObjectStore, project: str, service: str) -> Deltas:
    """The project's counted usage of ``service``."""
    return used_of(await objects.try_get(cm.QUOTA_USAGE, project, service))


def over(limits: dict[str, int], used: Deltas, add: Deltas) -> list[str]:
    """The resources whose limit ``add`` would pass (limits < 0 are unlimited)."""
    return [k for k, n in add.items() if n and k in limits and limits[k] >= 0
            and used.get(k, 0) + n > limits[k]]


async def _ensure(objects: store.ObjectStore, project: str, service: str) -> Obj:
    found = await objects.try_get(cm.QUOTA_USAGE, project, service)
    if found is not None:
        return found
    try:
        return await objects.create({"apiVersion": "kumo.io/v1", "kind": cm.QUOTA_USAGE,
                                     "metadata": {"name": service, "namespace": project},
                                     "spec": {"holders": {}}})
    except store.AlreadyExists:
        return await objects.get(cm.QUOTA_USAGE, project, service)


async def claim(objects: store.ObjectStore, project: str, service: str, want: Want,
                limits: dict[str, int] | None = None) -> dict[str, Deltas]:
    """Add holder entries in one CAS; the entries added.

    ``want`` is the entries, or a function of the fresh usage returning them (it may
    raise, e.g. a face's own over-quota error, or grant fewer). With ``limits`` the
    entries must fit (resources absent from ``limits`` are counted, not limited):
    ``QuotaExceeded`` otherwise. Names already held are not counted twice.
    """
    granted: dict[str, Deltas] = {}

    def change(obj: Obj) -> Any:
        holders = obj.setdefault("spec", {}).setdefault("holders", {})
        used = used_of(obj)
        wanted = want(used) if callable(want) else want
        fresh = {n: d for n, d in wanted.items() if n not in holders}
        add: Deltas = {}
        for d in fresh.values():
            for k, n in d.items():
                add[k] = add.get(k, 0) + n
        if limits is not None and (bad := over(limits, used, add)):
            raise QuotaExceeded(f"Quota exceeded for resources: {sorted(bad)}.",
                                resource=bad[0], code="OverQuota")
        granted.clear()
        granted.update(fresh)
        if not fresh:
            return store.UNCHANGED
        now = round(time.time(), 3)
        for n, d in fresh.items():
            holders[n] = {"d": d, "at": now}
        return None

    current = await _ensure(objects, project, service)
    try:
        await objects.mutate(cm.QUOTA_USAGE, project, service, change, current=current,
                             attempts=ATTEMPTS)
    except store.NotFound:  # deleted meanwhile (project cleanup): start a fresh one
        await _ensure(objects, project, service)
        return await claim(objects, project, service, want, limits)
    except store.Conflict as exc:
        raise ConcurrentChange(str(exc), kind=cm.QUOTA_USAGE, ident=project) from exc
    return granted


async def release(objects: store.ObjectStore, project: str, service: str,
                  names: Iterable[str]) -> None:
    """Drop the entries of ``names`` (deleted objects, failed creates); idempotent."""
    gone = set(names)
    if not gone:
        return

    def change(obj: Obj) -> Any:
        holders = (obj.get("spec") or {}).get("holders") or {}
        if not gone & holders.keys():
            return store.UNCHANGED
        for n in gone:
            holders.pop(n, None)
        return None

    try:
        await objects.mutate(cm.QUOTA_USAGE, project, service, change, attempts=ATTEMPTS)
    except store.NotFound:
        pass
    except store.Conflict:  # reconcile repairs the entry left behind
        log.warning("quota release lost %d races: %s/%s %s", ATTEMPTS, project, service,
                    sorted(gone))


# ---- reconcile ---------------------------------------------------------------------
async def actual(objects: store.ObjectStore, service: str,
                 project: str | None = None) -> dict[str, dict[str, Deltas]]:
    """project -> object name -> deltas, from the objects that exist."""
    out: dict[str, dict[str, Deltas]] = {}
    for kind in COUNTED[service]:
        for obj in (await objects.list(kind, project)).items:
            d = deltas_of(service, obj)
            if d is not None:
                md = obj["metadata"]
                out.setdefault(md.get("namespace") or "", {})[md["name"]] = d
    return out


async def reconcile(objects: store.ObjectStore, project: str, service: str,
                    found: dict[str, Deltas] | None = None, grace: float = GRACE) -> Deltas:
    """Recompute the project's entries from its objects; the usage after."""
    if found is None:
        found = (await actual(objects, service, project)).get(project, {})
    now = time.time()

    def change(obj: Obj) -> Any:
        holders = obj.setdefault("spec", {}).setdefault("holders", {})
        fixed = {n: e for n, e in holders.items()
                 if n in found or now - float(e.get("at", 0)) < grace}
        for n, d in found.items():
            fixed[n] = {"d": d, "at": (fixed.get(n) or {}).get("at", round(now, 3))}
        if fixed == holders:
            return store.UNCHANGED
        obj["spec"]["holders"] = fixed
        return None

    current = await _ensure(objects, project, service)
    try:
        stored = await objects.mutate(cm.QUOTA_USAGE, project, service, change,
                                      current=current, attempts=ATTEMPTS)
    except store.StoreError:
        return used_of(current)
    return used_of(stored)


async def reconcile_all(objects: store.ObjectStore, grace: float = GRACE) -> int:
    """Reconcile every project of every service; the number of usages looked at."""
    seen = 0
    existing: dict[str, set[str]] = {}
    for u in (await objects.list(cm.QUOTA_USAGE, None)).items:
        existing.setdefault(u["metadata"]["name"], set()).add(u["metadata"]["namespace"])
    for service in COUNTED:
        per_project = await actual(objects, service)
        for project in sorted(per_project.keys() | existing.get(service, set())):
            if not project:
                continue
            await reconcile(objects, project, service, per_project.get(project, {}), grace)
            seen += 1
    return seen


async def reconcile_forever(objects: store.ObjectStore, interval: float = INTERVAL,
                            on_pass: Callable[[int], None] | None = None) -> None:
    """At start and then every ``interval`` seconds (an entry left by a crash goes once
    it is ``GRACE`` old)."""
    while True:
        try:
            seen = await reconcile_all(objects)
            if on_pass is not None:
                on_pass(seen)
        except store.StoreError:
            log.exception("quota reconcile failed")
        await asyncio.sleep(interval)
