"""Scheduler claims: a server's share of a Host, held in ``Host.status.allocations``.

A claim is one compare-and-swap on the Host (``ObjectStore.mutate``), so two
schedulers never overcommit it: the loser re-reads the Host, and ``fits`` judges
the fresh copy again before the claim is retried. Whoever decides where a server
runs (the scheduler; a face that resizes or rebuilds in place) claims here.

    Host.status.allocations[<server uid>] =
        {vcpus, memoryMb, diskGb, server, namespace, claim (token), claimedAt (epoch s)}
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
# why a (fresh) host cannot take the claim, or None if it can
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

    def allocation(self) -> Obj:
        return {"vcpus": self.vcpus, "memoryMb": self.memory_mb, "diskGb": self.disk_gb,
                "server": self.server, "namespace": self.namespace, "claim": self.token,
                "claimedAt": time.time()}


def allocations(host: Obj | None) -> dict[str, Obj]:
    """The host's allocations by server uid (empty for a missing host)."""
    return dict(((host or {}).get("status") or {}).get("allocations") or {})


async def claim(objects: store.ObjectStore, host_name: str, want: Claim, *,
                fits: Fits | None = None, current: Obj | None = None,
                keep_existing: bool = False, on_retry: Callable[[], None] | None = None
                ) -> Obj:
    """Add ``want`` to the host's allocations; the stored Host.

    Raises ``AlreadyExists`` when the server already holds a claim there (another
    scheduler's; kept as is with ``keep_existing``), ``Exhausted`` when ``fits``
    refuses the fresh host, ``NotFound`` when the host is gone, ``ConcurrentChange``
    when the CAS keeps losing. ``on_retry`` counts lost races.
    """
    tries = 0

    def change(host: Obj) -> Any:
        nonlocal tries
        tries += 1
        if tries > 1 and on_retry is not None:
            on_retry()
        allocs = host.setdefault("status", {}).setdefault("allocations", {})
        if want.uid in allocs:
            if keep_existing:
                return store.UNCHANGED
            raise AlreadyExists(f"server {want.uid} already holds a claim on {host_name}",
                                kind=cm.HOST, ident=host_name)
        if fits is not None and (why := fits(host)) is not None:
            raise Exhausted(f"host {host_name} cannot take server {want.uid}: {why}",
                            code=why, kind=cm.HOST, ident=host_name)
        allocs[want.uid] = want.allocation()
        return None

    try:
        return await objects.mutate(cm.HOST, "", host_name, change, current=current)
    except store.NotFound as exc:
        raise NotFound(f"host {host_name} not found", kind=cm.HOST, ident=host_name) from exc
    except store.Conflict as exc:
        raise ConcurrentChange(str(exc), kind=cm.HOST, ident=host_name) from exc


async def release(objects: store.ObjectStore, host_name: str, uid: str,
                  token: str | None = None) -> Obj | None:
    """Drop a server's allocation from a host (only claim ``token``'s if given).

    Returns the stored Host, or None when there was nothing to release. Raises
    ``ConcurrentChange`` only after ``RELEASE_ATTEMPTS`` lost races.
    """
    def change(host: Obj) -> Any:
        allocs = (host.get("status") or {}).get("allocations") or {}
        alloc = allocs.get(uid)
        if alloc is None or (token is not None and alloc.get("claim") != token):
            return store.UNCHANGED
        del allocs[uid]
        return None

    try:
        before = await objects.get(cm.HOST, "", host_name)
        if uid not in allocations(before):
            return None
        return await objects.mutate(cm.HOST, "", host_name, change, current=before,
                                    attempts=RELEASE_ATTEMPTS)
    except store.NotFound:
        return None
    except store.Conflict as exc:
        raise ConcurrentChange(str(exc), kind=cm.HOST, ident=host_name) from exc
