"""The host agent's routers: for each Router bound to this host, its namespace made to
match the store (forwarding, routes, floating IPs, NAT), level-triggered.

Runs after every overlay sync (which makes the legs: veth pairs into ``qrouter-<id>``),
on every Router or FloatingIP change and on a timer (hand-made damage is repaired: a
deleted nftables table or address comes back). Reports Router ``status`` (ACTIVE, the
host) and FloatingIP ``status`` ACTIVE once its NAT is programmed; one Event per
router and floating-IP step. Namespaces of routers that no longer exist are removed;
those of routers bound elsewhere are left alone (namespace names are machine-wide).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from kumo.client import ApiClient, ApiSource
from kumo.common import errors
from kumo.common.informer import Informer
from kumo.drivers.linuxnet_router import PREFIX, RouterConfig, counter_name
from kumo.model.events import event_object
from kumo.observe import metrics

from . import network_router_desired

log = logging.getLogger("kumo.agent.router")
Obj = dict[str, Any]
COMPONENT = "router-agent"


class RouterDriver(Protocol):
    def namespaces(self) -> list[str]: ...
    def ensure(self, cfg: RouterConfig, verify: bool = True) -> int: ...
    def delete(self, netns: str) -> bool: ...
    def conntrack_entries(self, netns: str) -> int: ...
    def counters(self, netns: str) -> dict[str, int]: ...


class RouterAgent:
    def __init__(self, api: ApiClient, host: str, network: Any, driver: RouterDriver, *,
                 resync_interval: float = 15.0) -> None:
        self.api = api
        self.host = host
        self.network = network  # the overlay agent: its port and subnet caches, its syncs
        self.driver = driver
        self.resync_interval = resync_interval
        self.routers = Informer(ApiSource(api, "routers"), on_event=self._changed)
        self.fips = Informer(ApiSource(api, "floatingips"), on_event=self._changed)
        self._dirty = asyncio.Event()
        self._applied: dict[str, RouterConfig] = {}
        self.failures: dict[str, str] = {}
        self.syncs = 0
        network.after_sync.append(self._overlay_synced)

    def _changed(self, typ: str, obj: Obj) -> None:
        self._dirty.set()

    async def _overlay_synced(self) -> None:
        self._dirty.set()

    async def run(self) -> None:
        await asyncio.gather(self.routers.run(), self.fips.run(), self._loop())

    async def _loop(self) -> None:
        for inf in (self.routers, self.fips, self.network.ports, self.network.subnets):
            await inf.synced.wait()
        full = True
        while True:
            self._dirty.clear()
            try:
                await self.sync(full=full)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("router sync failed")
                await asyncio.sleep(1.0)
                self._dirty.set()
            try:
                await asyncio.wait_for(self._dirty.wait(), self.resync_interval)
                full = False
            except TimeoutError:
                full = True  # the timer: verify what is trusted on the fast path

    def desired(self) -> dict[str, tuple[Obj, RouterConfig]]:
        return network_router_desired.compute(
            self.host, list(self.routers.items.values()),
            list(self.network.ports.items.values()),
            list(self.network.subnets.items.values()), list(self.fips.items.values()))

    async def sync(self, full: bool = True) -> None:
        """Every router bound here made to match; ``full`` (start, timer) also verifies
        the NAT tables and refreshes the metrics, which a change-driven sync skips."""
        want = self.desired()
        fips = {name: f for (_, name), f in self.fips.items.items()}  # by id, once a sync
        for rid, (router, cfg) in want.items():
            t0 = time.perf_counter()
            try:
                await asyncio.to_thread(self.driver.ensure, cfg, full)
            except Exception as exc:  # one router must not block the others
                self.failures[rid] = f"{type(exc).__name__}: {exc}"
                log.warning("router %s: %s", rid, exc)
                continue
            self.failures.pop(rid, None)
            before = self._applied.get(rid)
            self._applied[rid] = cfg
            if before != cfg:
                await self._steps(router, before, cfg, time.perf_counter() - t0, fips)
            await self._report(router, cfg, fips)
        await self._collect(set(want))
        self.syncs += 1
        if full:
            await asyncio.to_thread(self._observe, want)

    async def _steps(self, router: Obj, before: RouterConfig | None, cfg: RouterConfig,
                     seconds: float, fips: dict[str, Obj]) -> None:
        """One Event per step: the router (re)programmed, each FIP mapped or unmapped."""
        await self._event(router, "RouterProgrammed",
                          f"namespace {cfg.netns} on {self.host}: gateway "
                          f"{cfg.gateway_ip or 'none'}, {len(cfg.internal_cidrs)} subnets, "
                          f"{len(cfg.fips)} floating IPs"
                          f"{'' if cfg.forwarding else ', not forwarding (down)'}"
                          f" ({seconds * 1000:.0f} ms)")
        old = {f.fip_id: f for f in (before.fips if before else ())}
        new = {f.fip_id: f for f in cfg.fips}
        for fid, f in new.items():
            if old.get(fid) != f:
                fip = fips.get(fid)
                if fip is not None:
                    await self._event(fip, "FloatingIPMapped", f"{f.floating_ip} -> "
                                      f"{f.fixed_ip} in {cfg.netns} on {self.host}")
        for fid, f in old.items():
            if fid not in new:
                fip = fips.get(fid)
                if fip is not None:
                    await self._event(fip, "FloatingIPUnmapped",
                                      f"{f.floating_ip} unmapped; its connections flushed")

    async def _event(self, obj: Obj, reason: str, message: str) -> None:
        ev = event_object(obj, COMPONENT, reason, message)
        try:
            await self.api.create("events", ev, ev["metadata"]["namespace"])
        except Exception:  # an event is best effort; the state is what matters
            log.warning("could not record event %s", reason)

    async def _report(self, router: Obj, cfg: RouterConfig, fips: dict[str, Obj]) -> None:
        md = router["metadata"]
        st = router.get("status") or {}
        if st.get("status") != "ACTIVE" or st.get("host") != self.host:
            await self._status("routers", md, {"status": "ACTIVE", "host": self.host})
        for nat in cfg.fips:
            fip = fips.get(nat.fip_id)
            if fip is not None and (fip.get("status") or {}).get("status") != "ACTIVE":
                await self._status("floatingips", fip["metadata"], {"status": "ACTIVE"})

    async def _status(self, plural: str, md: Obj, status: Obj) -> None:
        try:
            await self.api.patch(plural, md["name"], {"status": status}, md["namespace"],
                                 status=True)
        except errors.NotFound:
            pass

    async def _collect(self, wanted: set[str]) -> None:
        """Namespaces of routers that are gone (or bound here no more) are removed —
        only those this agent made (``driver.namespaces()``): another cloud's router on
        the same kernel is unknown here, and deleting it cut its connections."""
        known = {name: r for (_, name), r in self.routers.items.items()}
        for netns in await asyncio.to_thread(self.driver.namespaces):
            rid = netns[len(PREFIX):]
            if rid in wanted:
                continue
            r = known.get(rid)
            if r is not None and r["spec"].get("host") not in (self.host, None) and \
                    rid not in self._applied:
                continue  # another host's router (names are machine-wide)
            if r is not None and r["spec"].get("host") == self.host:
                continue  # ours, its legs not there yet (down too: it keeps its legs)
            await asyncio.to_thread(self.driver.delete, netns)
            self._applied.pop(rid, None)
            log.info("router namespace %s removed from %s", netns, self.host)

    def _observe(self, want: dict[str, tuple[Obj, RouterConfig]]) -> None:
        for rid, (_, cfg) in want.items():
            try:
                metrics.ROUTER_CONNTRACK.labels(self.host, rid).set(
                    self.driver.conntrack_entries(cfg.netns))
                counts = self.driver.counters(cfg.netns)
            except Exception:  # metrics must not fail the sync
                continue
            for f in cfg.fips:
                for d in ("dnat", "snat"):
                    metrics.FIP_PACKETS.labels(self.host, f.fip_id, d).set(
                        counts.get(counter_name(d, f.fip_id), 0))

    def debug_state(self) -> dict[str, Any]:
        return {"syncs": self.syncs, "routers": sorted(self._applied),
                "failures": dict(self.failures),
                "floating_ips": sum(len(c.fips) for c in self._applied.values())}

