"""One consistent-enough read of everything the checks compare: listed once per run.

The checks never list the store themselves, so a doctor run costs one list per kind
(about 1 s for 10k objects), whatever the number of checks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kumo import store
from kumo.model import compute as cm
from kumo.model import network as nm
from kumo.model import ops

Obj = dict[str, Any]
KINDS = {"hosts": cm.HOST, "leases": cm.LEASE, "reports": ops.AGENT_REPORT,
         "servers": cm.SERVER, "ports": nm.PORT, "networks": nm.NETWORK, "subnets": nm.SUBNET,
         "ipallocations": nm.IP_ALLOCATION, "quotausages": cm.QUOTA_USAGE,
         "quotaclaims": cm.QUOTA_CLAIM}


@dataclass
class Snapshot:
    objects: store.ObjectStore
    now: float = field(default_factory=time.time)
    revision: int = 0
    lists: dict[str, list[Obj]] = field(default_factory=dict)
    stats: Obj = field(default_factory=dict)

    @classmethod
    async def take(cls, objects: store.ObjectStore) -> Snapshot:
        snap = cls(objects)
        for key, kind in KINDS.items():
            listed = await objects.list(kind, None)
            snap.lists[key] = listed.items
            snap.revision = max(snap.revision, listed.resource_version)
        snap.stats = objects.backend.stats()
        return snap

    def by_name(self, key: str) -> dict[str, Obj]:
        return {o["metadata"]["name"]: o for o in self.lists[key]}

    def alive(self, host: str) -> bool:
        return cm.lease_alive(self.by_name("leases").get(host), self.now)

    async def events(self, reason: str) -> list[Obj]:
        """Events labelled with one reason in every namespace (``WriteConflict``)."""
        listed = await self.objects.list("Event", None,
                                         label_selector=f"kumo.io/event-reason={reason}")
        return listed.items


def age(ts: str | None, now: float) -> float:
    from kumo.common.clock import epoch

    t = epoch(ts)
    return now - t if t else 0.0
