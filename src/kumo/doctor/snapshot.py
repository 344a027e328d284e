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
from kumo.model import image as im
from kumo.model import network as nm
from kumo.model import ops

Obj = dict[str, Any]
KINDS = {"hosts": cm.HOST, "leases": cm.LEASE, "reports": ops.AGENT_REPORT,
         "servers": cm.SERVER, "ports": nm.PORT, "networks": nm.NETWORK, "subnets": nm.SUBNET,
         "ipallocations": nm.IP_ALLOCATION, "quotausages": cm.QUOTA_USAGE,
         "quotaclaims": cm.QUOTA_CLAIM, "images": im.IMAGE}
# Thresholds an operator can change per run (`kumo doctor --set stuck-build.seconds=60`).
SETTINGS: dict[str, float] = {
    "stuck-build.seconds": 120.0,  # a server building longer than this is stuck
    "watch-lag.seconds": 30.0,  # an agent's Port cache behind this long
    "drift.window": 600.0,  # drift repaired this recently is still worth a finding
    "store-writer.seconds": 5.0,  # a store commit in flight this long: the writer is stalled
    "store-watch-lag.seconds": 10.0,  # a store watcher with events queued this long
    "inventory.seconds": 30.0,  # an agent inventory older than this is not trusted
}


def parse_settings(pairs: list[str]) -> dict[str, float]:
    """``["stuck-build.seconds=60"]`` -> the settings with that one changed."""
    out = dict(SETTINGS)
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or key not in SETTINGS:
            raise ValueError(f"unknown setting {pair!r}: use KEY=VALUE, KEY one of "
                             f"{', '.join(sorted(SETTINGS))}")
        try:
            out[key] = float(value)
        except ValueError:
            raise ValueError(f"setting {key} needs a number, not {value!r}") from None
    return out


@dataclass
class Snapshot:
    objects: store.ObjectStore
    now: float = field(default_factory=time.time)
    revision: int = 0
    lists: dict[str, list[Obj]] = field(default_factory=dict)
    stats: Obj = field(default_factory=dict)
    settings: dict[str, float] = field(default_factory=lambda: dict(SETTINGS))
    _by_name: dict[str, dict[str, Obj]] = field(default_factory=dict)

    @classmethod
    async def take(cls, objects: store.ObjectStore,
                   settings: dict[str, float] | None = None) -> Snapshot:
        snap = cls(objects, settings=settings or dict(SETTINGS))
        for key, kind in KINDS.items():
            listed = await objects.list(kind, None)
            snap.lists[key] = listed.items
            snap.revision = max(snap.revision, listed.resource_version)
        snap.stats = objects.backend.stats()
        return snap

    def by_name(self, key: str) -> dict[str, Obj]:
        """name -> object of one listed kind (built once per snapshot; do not mutate)."""
        if key not in self._by_name:
            self._by_name[key] = {o["metadata"]["name"]: o for o in self.lists[key]}
        return self._by_name[key]

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
