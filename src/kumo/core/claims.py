"""Scheduler claims: a server's share of a host, held in the host's HostAllocation.

A claim is one compare-and-swap on the HostAllocation (``ObjectStore.mutate``), so
two schedulers never overcommit a host: the loser re-reads it, and ``fits`` judges
the fresh copy again before the claim is retried. Whoever decides where a server
runs (the scheduler; a face that resizes or rebuilds in place) claims here.
The claims live apart from the Host because every agent watches Hosts: a claim
written there was streamed to every agent of the cloud.

    HostAllocation(<host>).spec.allocations[<server uid>] =
        {vcpus, memoryMb, diskGb, server, namespace, claim (token), claimedAt (epoch s),
         group (the server group, if any: two members' claims on one host are visible
         to the CAS, so concurrent anti-affinity decisions cannot share a host)}
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kumo import store
from kumo.model import compute as cm

from .errors import AlreadyExists, ConcurrentChange, Exhausted, NotFound

Obj = dict[str, Any]
# why the host (given its fresh HostAllocation) cannot take the claim, or None if it can
Fits = Callable[[Obj], str | None]
RELEASE_ATTEMPTS = 200  # a release must not give up early: the loser would keep capacity


@dataclass(frozen=True)
class Claim:
    """What one server asks of one host."""

    uid: str
    server: str
    namespace: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    token: str
    group: str | None = None  # its server group: anti-affinity is judged on the claims

    def allocation(self) -> Obj:
        alloc = {"vcpus": self.vcpus, "memoryMb": self.memory_mb, "diskGb": self.disk_gb,
                 "server": self.server, "namespace": self.namespace, "claim": self.token,
                 "claimedAt": time.time()}
        if self.group:
            alloc["group"] = self.group
        return alloc


def allocations(obj: Obj | None) -> dict[str, Obj]:
    """A HostAllocation's claims by server uid (empty for a missing object)."""
    return cm.host_allocations(obj)


def _empty(host_name: str) -> Obj:
    return {"apiVersion": "kumo.io/v1", "kind": cm.HOST_ALLOCATION,
            "metadata": {"name": host_name}, "spec": {"allocations": {}}}


async def _first(objects: store.ObjectStore, host_name: str) -> Obj:
    """The host's HostAllocation, created empty on its first claim (NotFound: no Host)."""
    found = await objects.try_get(cm.HOST_ALLOCATION, "", host_name)
    if found is not None:
        return found
    if await objects.try_get(cm.HOST, "", host_name) is None:
        raise store.NotFound(f"host {host_name!r} not found")
    try:
        return await objects.create(_empty(host_name))
    except store.AlreadyExists:
        return await objects.get(cm.HOST_ALLOCATION, "", host_name)


async def claim(objects: store.ObjectStore, host_name: str, want: Claim, *,
                fits: Fits | None = None, current: Obj | None = None,
                keep_existing: bool = False, on_retry: Callable[[], None] | None = None
                ) -> Obj:
    """Add ``want`` to the host's allocations; the stored HostAllocation.

    ``fits`` judges each fresh HostAllocation; ``current`` is the caller's copy of
    it (saves a read). Raises ``AlreadyExists`` when the server already holds a
    claim there (another scheduler's; kept as is with ``keep_existing``),
    ``Exhausted`` when ``fits`` refuses, ``NotFound`` when the host is gone,
    ``ConcurrentChange`` when the CAS keeps losing. ``on_retry`` counts lost races.
    """
    tries = 0

    def change(obj: Obj) -> Any:
        nonlocal tries
        tries += 1
        if tries > 1 and on_retry is not None:
            on_retry()
        allocs = obj.setdefault("spec", {}).setdefault("allocations", {})
        if want.uid in allocs:
            if keep_existing:
                return store.UNCHANGED
            raise AlreadyExists(f"server {want.uid} already holds a claim on {host_name}",
                                kind=cm.HOST, ident=host_name)
        if fits is not None and (why := fits(obj)) is not None:
            raise Exhausted(f"host {host_name} cannot take server {want.uid}: {why}",
                            code=why, kind=cm.HOST, ident=host_name)
        allocs[want.uid] = want.allocation()
        return None

    try:
        if current is None:
            current = await _first(objects, host_name)
        return await objects.mutate(cm.HOST_ALLOCATION, "", host_name, change, current=current)
    except store.NotFound as exc:
        raise NotFound(f"host {host_name} not found", kind=cm.HOST, ident=host_name) from exc
    except store.Conflict as exc:
        raise ConcurrentChange(str(exc), kind=cm.HOST, ident=host_name) from exc


async def release(objects: store.ObjectStore, host_name: str, uid: str,
                  token: str | None = None) -> Obj | None:
    """Drop a server's allocation from a host (only claim ``token``'s if given).

    Returns the stored HostAllocation, or None when there was nothing to release.
    Raises ``ConcurrentChange`` only after ``RELEASE_ATTEMPTS`` lost races.
    """
    def change(obj: Obj) -> Any:
        allocs = (obj.get("spec") or {}).get("allocations") or {}
        alloc = allocs.get(uid)
        if alloc is None or (token is not None and alloc.get("claim") != token):
            return store.UNCHANGED
        del allocs[uid]
        return None

    try:
        before = await objects.get(cm.HOST_ALLOCATION, "", host_name)
        if uid not in allocations(before):
            return None
        return await objects.mutate(cm.HOST_ALLOCATION, "", host_name, change, current=before,
                                    attempts=RELEASE_ATTEMPTS)
    except store.NotFound:
        return None
    except store.Conflict as exc:
        raise ConcurrentChange(str(exc), kind=cm.HOST, ident=host_name) from exc


async def migrate_legacy(objects: store.ObjectStore) -> int:
    """Move claims an older kumo kept in ``Host.status.allocations`` to HostAllocations.

    Claims are merged first (so capacity is never briefly free), then dropped from
    the Host. Returns how many Hosts carried some.
    """
    moved = 0
    for host in (await objects.list(cm.HOST)).items:
        legacy = (host.get("status") or {}).get("allocations")
        if legacy is None:
            continue
        name = host["metadata"]["name"]

        def merge(obj: Obj, legacy: Obj = legacy) -> Any:
            allocs = obj.setdefault("spec", {}).setdefault("allocations", {})
            for uid, alloc in legacy.items():
                allocs.setdefault(uid, alloc)

        def drop(obj: Obj) -> Any:
            (obj.get("status") or {}).pop("allocations", None)

        if legacy:
            await objects.mutate(cm.HOST_ALLOCATION, "", name, merge,
                                 current=await _first(objects, name))
        await objects.mutate(cm.HOST, "", name, drop, current=host)
        moved += 1
    return moved
