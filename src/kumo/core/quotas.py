"""Counted quota claims: a small per-project counter, changed by compare-and-swap.

Counting objects before a create (list, compare, create) lets twenty concurrent
creates all pass a check made before any of them is written. Here a project's usage
of one service is a counter, ``QuotaUsage`` (namespace = project, name = service,
"compute" or "network", ``spec.used``), and each counted object has a ``QuotaClaim``
record (``<service>.<object name>``, ``spec.d`` = what it uses):

- ``claim`` judges the limit on the fresh counter inside ``ObjectStore.mutate`` (so
  of racing creates exactly the ones that fit win) and writes the records; a name
  already claimed is not counted twice;
- ``release`` deletes the record, and only the one caller whose delete succeeded
  takes its share off the counter: releasing twice (two racing deletes, a delete
  after a failed create) changes nothing.

The counter stays small whatever the project's size (a claim is one create and one
CAS on a tiny object). What can drift (a crash between a record and the counter, an
object deleted by a path that does not release: the garbage collector, an admin's
native delete) is repaired by ``reconcile``: records without their object and older
than ``GRACE`` are released, objects without a record are claimed, and the counter is
set to the sum of the records — raised at once, lowered only by an excess seen on two
passes in a row (a create in flight has its counter share before its record). kumo
runs it at start and every ``INTERVAL`` seconds (``reconcile_forever``).

Keypairs belong to a user, not a project (Nova counts them per user): their counter and
records live in the namespace named by the user id (service ``keypairs``), and their
objects are found by the ``user`` label instead of by namespace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from kumo import store
from kumo.model import compute as cm
from kumo.model import loadbalancer as lbm
from kumo.model import network as nm

from . import quota_batch
from .errors import ConcurrentChange, QuotaExceeded

Obj = dict[str, Any]
Deltas = dict[str, int]
Want = dict[str, Deltas] | Callable[[Deltas], dict[str, Deltas]]
GRACE = 120.0  # a record without its object is kept this long (its create may be in flight)
INTERVAL = 60.0
ATTEMPTS = 400  # twenty racing creates must all get an answer, not a lost race
COMPUTE, NETWORK, KEYPAIRS = "compute", "network", "keypairs"
SERVICE_LABEL = "kumo.io/quota-service"
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
    KEYPAIRS: {cm.KEYPAIR: _one("key_pairs")},
    lbm.QUOTA_SERVICE: {lbm.LOADBALANCER: _one("load_balancer")},
}


def _owner(service: str, obj: Obj) -> str:
    """Whose usage ``obj`` counts in: its user's for keypairs, else its project's."""
    if service == KEYPAIRS:
        return str((obj.get("spec") or {}).get("userId") or "")
    return obj["metadata"].get("namespace") or ""


async def _counted(objects: store.ObjectStore, service: str, kind: str,
                   owner: str | None) -> list[Obj]:
    if service == KEYPAIRS:  # cluster-scoped, labelled by user
        selector = f"user={owner}" if owner else None
        return (await objects.list(kind, None, label_selector=selector)).items
    return (await objects.list(kind, owner)).items


def deltas_of(service: str, obj: Obj) -> Deltas | None:
    """What ``obj`` uses of ``service``'s quotas (None: it does not count)."""
    count = COUNTED[service].get(str(obj.get("kind")))
    return count(obj) if count else None


def _add(total: Deltas, d: Deltas, sign: int = 1) -> Deltas:
    for k, n in d.items():
        total[k] = total.get(k, 0) + sign * int(n)
    return total


used_of = quota_batch.used_of


async def usage(objects: store.ObjectStore, project: str, service: str) -> Deltas:
    """The project's counted usage of ``service``."""
    return used_of(await objects.try_get(cm.QUOTA_USAGE, project, service))


async def network_limit(objects: store.ObjectStore, project: str, resource: str
                        ) -> dict[str, int]:
    """``claim``'s limits for one Neutron resource: the project's QuotaSet, else the default."""
    found = await objects.try_get(cm.QUOTA_SET, project, nm.QUOTA_NAME)
    return {resource: int(((found or {}).get("spec") or {}).get(
        resource, nm.QUOTA_DEFAULTS[resource]))}


def over(limits: dict[str, int], used: Deltas, add: Deltas) -> list[str]:
    """The resources whose limit ``add`` would pass (limits < 0 are unlimited)."""
    return [k for k, n in add.items() if n and k in limits and limits[k] >= 0
            and used.get(k, 0) + n > limits[k]]


def _record_name(service: str, name: str) -> str:
    return f"{service}.{name}"


def _record(project: str, service: str, name: str, d: Deltas) -> Obj:
    return {"apiVersion": "kumo.io/v1", "kind": cm.QUOTA_CLAIM,
            "metadata": {"name": _record_name(service, name), "namespace": project,
                         "labels": {SERVICE_LABEL: service}},
            "spec": {"d": d, "at": round(time.time(), 3)}}


async def _counter(objects: store.ObjectStore, project: str, service: str,
                   change: Callable[[Obj], Any]) -> Obj:
    """``mutate`` the project's counter, made on first use."""
    for _ in range(3):
        try:
            return await objects.mutate(cm.QUOTA_USAGE, project, service, change,
                                        attempts=ATTEMPTS)
        except store.NotFound:
            try:
                await objects.create({"apiVersion": "kumo.io/v1", "kind": cm.QUOTA_USAGE,
                                      "metadata": {"name": service, "namespace": project},
                                      "spec": {"used": {}}})
            except store.AlreadyExists:
                pass
        except store.Conflict as exc:
            raise ConcurrentChange(str(exc), kind=cm.QUOTA_USAGE, ident=project) from exc
    raise ConcurrentChange(f"quota usage of {project} keeps vanishing", kind=cm.QUOTA_USAGE,
                           ident=project)


async def _held(objects: store.ObjectStore, project: str, service: str,
                names: Iterable[str]) -> set[str]:
    return {n for n in names if await objects.try_get(
        cm.QUOTA_CLAIM, project, _record_name(service, n)) is not None}


async def claim(objects: store.ObjectStore, project: str, service: str, want: Want,
                limits: dict[str, int] | None = None) -> dict[str, Deltas]:
    """Count objects about to be created; the claims made (name -> deltas).

    ``want`` is the claims, or a function of the fresh usage returning them (it may
    raise, e.g. a face's own over-quota error, or grant fewer). With ``limits`` they
    must fit (resources absent from ``limits`` are counted, not limited):
    ``QuotaExceeded`` otherwise. Names already claimed are not counted twice.
    """
    return await record(objects, project, service,
                        await count(objects, project, service, want, limits))


async def count(objects: store.ObjectStore, project: str, service: str, want: Want,
                limits: dict[str, int] | None = None, *, new: bool = False) -> dict[str, Deltas]:
    """``claim``'s first half: the counter only (``record`` writes the claims' records,
    ``uncount`` takes back a count whose records were never written). Callers that
    have other writes to make run them alongside (one commit instead of two). ``new``:
    the names were just made up (random ids), so none can be claimed already."""
    held = set() if callable(want) or new else await _held(objects, project, service, want)

    def judge(used: Deltas) -> tuple[dict[str, Deltas], Deltas]:
        wanted = want(used) if callable(want) else want
        fresh = {n: d for n, d in wanted.items() if n not in held}
        add: Deltas = {}
        for d in fresh.values():
            _add(add, d)
        if limits is not None and (bad := over(limits, used, add)):
            raise QuotaExceeded(f"Quota exceeded for resources: {sorted(bad)}.",
                                resource=bad[0], code="OverQuota")
        return fresh, add

    return dict(await quota_batch.submit(objects, project, service, judge,
                                         _writer(objects, project, service)))


async def record(objects: store.ObjectStore, project: str, service: str,
                 granted: dict[str, Deltas]) -> dict[str, Deltas]:
    """Write the records of counted claims; the ones that are this caller's."""
    granted = dict(granted)
    for n, d in list(granted.items()):
        try:
            await objects.create(_record(project, service, n, d))
        except store.AlreadyExists:  # a racing claim of the same name: count it once
            granted.pop(n)  # not ours: a release on our failure must not drop theirs
            await _give_back(objects, project, service, d)
    return granted


async def uncount(objects: store.ObjectStore, project: str, service: str,
                  granted: dict[str, Deltas]) -> None:
    """Take back what ``count`` counted, for claims whose records were never written."""
    total: Deltas = {}
    for d in granted.values():
        _add(total, d)
    if any(total.values()):
        await _give_back(objects, project, service, total)


def _writer(objects: store.ObjectStore, project: str, service: str) -> quota_batch.Write:
    async def write(change: Callable[[Obj], Any]) -> Obj:
        return await _counter(objects, project, service, change)
    return write


async def _give_back(objects: store.ObjectStore, project: str, service: str,
                     d: Deltas) -> None:
    """Lower the counter by ``d``, in the next coalesced write of the counter."""
    back = _add({}, d, -1)
    await quota_batch.submit(objects, project, service, lambda used: ({}, back),
                             _writer(objects, project, service))


async def release(objects: store.ObjectStore, project: str, service: str,
                  names: Iterable[str]) -> None:
    """The objects ``names`` are gone (deleted, or their create failed); idempotent."""
    for n in names:
        found = await objects.try_get(cm.QUOTA_CLAIM, project, _record_name(service, n))
        if found is None:
            continue
        try:
            await objects.delete(cm.QUOTA_CLAIM, project, _record_name(service, n))
        except store.NotFound:
            continue  # another release won: it takes the share off
        d = (found.get("spec") or {}).get("d") or {}
        try:
            await _give_back(objects, project, service, d)
        except ConcurrentChange:  # reconcile repairs the counter
            log.warning("quota release lost its races: %s/%s %s", project, service, n)


# ---- reconcile ---------------------------------------------------------------------
async def actual(objects: store.ObjectStore, service: str,
                 project: str | None = None) -> dict[str, dict[str, Deltas]]:
    """project -> object name -> deltas, from the objects that exist."""
    out: dict[str, dict[str, Deltas]] = {}
    for kind in COUNTED[service]:
        for obj in await _counted(objects, service, kind, project):
            d = deltas_of(service, obj)
            if d is not None:
                out.setdefault(_owner(service, obj), {})[obj["metadata"]["name"]] = d
    return out


async def _records(objects: store.ObjectStore, service: str, project: str | None
                   ) -> dict[str, dict[str, Obj]]:
    out: dict[str, dict[str, Obj]] = {}
    for r in (await objects.list(cm.QUOTA_CLAIM, project,
                                 label_selector=f"{SERVICE_LABEL}={service}")).items:
        md = r["metadata"]
        out.setdefault(md["namespace"], {})[md["name"].split(".", 1)[1]] = r
    return out


async def reconcile(objects: store.ObjectStore, project: str, service: str,
                    found: dict[str, Deltas] | None = None,
                    records: dict[str, Obj] | None = None, grace: float = GRACE) -> Deltas:
    """Repair the project's records and counter from its objects; the usage after."""
    if found is None:
        found = (await actual(objects, service, project)).get(project, {})
    if records is None:
        records = (await _records(objects, service, project)).get(project, {})
    now = time.time()
    stale = [n for n, r in records.items()
             if n not in found and now - float(r["spec"].get("at", 0)) >= grace]
    changed = [n for n, r in records.items()  # e.g. an admin's native flavor change
               if n in found and (r["spec"].get("d") or {}) != found[n]]
    await release(objects, project, service, stale + changed)
    records = {n: r for n, r in records.items() if n not in changed}
    missing = {n: d for n, d in found.items() if n not in records}
    if missing:
        await claim(objects, project, service, missing)
    held: dict[str, Deltas] = {n: r["spec"].get("d") or {} for n, r in records.items()
                               if n not in stale}
    held.update(missing)
    total: Deltas = {}
    for d in held.values():
        _add(total, d)
    return await _settle(objects, project, service, total)


async def _settle(objects: store.ObjectStore, project: str, service: str,
                  total: Deltas) -> Deltas:
    """Counter := the records' sum; lowered only by an excess also seen last pass."""
    def change(obj: Obj) -> Any:
        used = used_of(obj)
        seen = {k: int(v) for k, v in (obj["spec"].get("excess") or {}).items()}
        fixed, excess = dict(used), {}
        for k in set(used) | set(total):
            diff = used.get(k, 0) - total.get(k, 0)
            if diff < 0:
                fixed[k] = total.get(k, 0)  # too low: raise now
            elif diff > 0:
                fixed[k] = used.get(k, 0) - min(diff, seen.get(k, 0))
                excess[k] = diff
        if fixed == used and excess == seen:
            return store.UNCHANGED
        obj["spec"]["used"], obj["spec"]["excess"] = fixed, excess
        return None

    try:
        return used_of(await _counter(objects, project, service, change))
    except ConcurrentChange:
        return await usage(objects, project, service)


async def reconcile_all(objects: store.ObjectStore, grace: float = GRACE) -> int:
    """Reconcile every project of every service; the number of usages looked at."""
    seen = 0
    counters: dict[str, set[str]] = {}
    for u in (await objects.list(cm.QUOTA_USAGE, None)).items:
        counters.setdefault(u["metadata"]["name"], set()).add(u["metadata"]["namespace"])
    for service in COUNTED:
        per_project = await actual(objects, service)
        records = await _records(objects, service, None)
        projects = per_project.keys() | records.keys() | counters.get(service, set())
        for project in sorted(p for p in projects if p):
            await reconcile(objects, project, service, per_project.get(project, {}),
                            records.get(project, {}), grace)
            seen += 1
    return seen


async def reconcile_forever(objects: store.ObjectStore, interval: float = INTERVAL,
                            on_pass: Callable[[int], None] | None = None) -> None:
    """At start and then every ``interval`` seconds."""
    while True:
        try:
            seen = await reconcile_all(objects)
            if on_pass is not None:
                on_pass(seen)
        except (store.StoreError, ConcurrentChange):
            log.exception("quota reconcile failed")
        await asyncio.sleep(interval)
