"""Binding an object to one host: the router, load-balancer and DHCP schedulers' shared part.

An object keeps its host while that Host exists; otherwise it goes to the live, enabled
host holding the fewest such objects. Leases are read only when a binding is needed:
a reconcile of an object already on an existing host lists nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from kumo import store
from kumo.model import compute as cm
from kumo.model import events

log = logging.getLogger("kumo.control.hostbind")
Obj = dict[str, Any]


async def live_hosts(objects: store.ObjectStore, hosts: Iterable[Obj]) -> list[str]:
    """Names of ``hosts`` whose lease is current and that are enabled, sorted."""
    leases = {le["metadata"]["name"]: le for le in (await objects.list(cm.LEASE)).items}
    now = time.time()
    return sorted(h["metadata"]["name"] for h in hosts
                  if cm.lease_alive(leases.get(h["metadata"]["name"]), now)
                  and (h.get("spec") or {}).get("enabled", True))


def least_loaded(live: list[str], bound: Iterable[str | None]) -> str:
    """The host of ``live`` named least often in ``bound`` (first by name on a tie)."""
    load = dict.fromkeys(live, 0)
    for h in bound:
        if h in load:
            load[h] += 1
    return min(sorted(live), key=lambda h: load[h])


async def bind(objects: store.ObjectStore, obj: Obj, host: str, *, component: str,
               reason: str) -> Obj | None:
    """Set ``spec.host`` and the host label; record ``reason`` as an Event. None if gone.

    A binding is not a tenant's change: the generation moves, and the object's status
    follows what the agent on that host reports."""
    def change(new: Obj) -> None:
        new["spec"]["host"] = host
        new["metadata"].setdefault("labels", {})[cm.HOST_LABEL] = host

    md = obj["metadata"]
    try:
        out = await objects.mutate(obj["kind"], md["namespace"], md["name"], change)
    except store.NotFound:
        return None
    noun = obj["kind"].lower()
    log.info("%s %s bound to host %s", noun, md["name"], host)
    try:
        await events.record(objects, out, component, reason,
                            f"bound to host {host} (was {obj['spec'].get('host')})")
    except store.StoreError:
        log.warning("could not record the binding of %s %s", noun, md["name"])
    return out
