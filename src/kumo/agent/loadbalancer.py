"""The host agent's load balancers: one HAProxy per LoadBalancer bound to this host, in
``qlb-<id>`` (the overlay agent plugs the VIP port there), level-triggered.

On every LoadBalancer change, VIP port change and on a short timer: each LB bound here
whose VIP is plugged gets its plan applied (driver: start, runtime member change or
seamless reload) and ``status.observedGeneration`` written — which is what turns
Octavia's PENDING_* into ACTIVE (or ``error`` into ERROR). The timer also reads every
HAProxy's stats socket: member health becomes operating_status (an Event per
transition), counters go to ``status.stats`` (served at /stats) and to this agent's
/metrics. HAProxy processes of LBs that are gone, or bound elsewhere, are stopped and
their namespaces removed; a running one is adopted, never restarted, after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from prometheus_client import Gauge

from kumo.client import ApiClient, ApiSource
from kumo.common import errors
from kumo.common.informer import Informer
from kumo.drivers.haproxy_config import LbPlan
from kumo.model import compute as cm
from kumo.model import loadbalancer as lbm
from kumo.model.events import event_object
from kumo.observe import metrics

from . import loadbalancer_plan as lbplan

log = logging.getLogger("kumo.agent.loadbalancer")
Obj = dict[str, Any]
COMPONENT = "lb-agent"
LB_STAT = Gauge("kumo_lb_stat", "HAProxy counters per load balancer child (scur: current "
                "sessions, qcur: queued = pending requests, rate, bin, bout, hrsp_*, "
                "check_duration)", ["host", "project", "loadbalancer", "id", "stat"],
                registry=metrics.REGISTRY)
LB_STATUS = Gauge("kumo_lb_operating", "1 for a child's current operating_status",
                  ["host", "project", "loadbalancer", "id", "status"], registry=metrics.REGISTRY)
STATS_WRITE_INTERVAL = 3.0


class HaproxyDriver(Protocol):
    def ensure(self, plan: LbPlan, netns: str, previous: LbPlan | None) -> str: ...
    def stop(self, lb_id: str, netns: str | None = None) -> None: ...
    def present(self) -> list[str]: ...
    def stats(self, lb_id: str) -> list[dict[str, str]]: ...


class LoadBalancerAgent:
    def __init__(self, api: ApiClient, host: str, network: Any, driver: HaproxyDriver, *,
                 poll_interval: float = 1.0) -> None:
        self.api = api
        self.host = host
        self.network = network  # the overlay agent: its port cache says when a VIP is plugged
        self.driver = driver
        self.poll_interval = poll_interval
        self.lbs = Informer(ApiSource(api, "loadbalancers",
                                      label_selector=f"{cm.HOST_LABEL}={host}"),
                            on_event=self._changed)
        self._dirty = asyncio.Event()
        self._applied: dict[str, LbPlan] = {}
        self._operating: dict[str, dict[str, str]] = {}
        self._stats_at: dict[str, float] = {}
        self._counters: dict[str, tuple[lbplan.Counters, lbplan.Counters]] = {}  # last, base
        self.failures: dict[str, str] = {}
        self.actions: dict[str, int] = {}
        network.after_sync.append(self._overlay_synced)

    def _changed(self, typ: str, obj: Obj) -> None:
        self._dirty.set()

    async def _overlay_synced(self) -> None:
        self._dirty.set()

    async def run(self) -> None:
        await asyncio.gather(self.lbs.run(), self._loop())

    async def _loop(self) -> None:
        await self.lbs.synced.wait()
        await self.network.ports.synced.wait()
        while True:
            self._dirty.clear()
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("load-balancer sync failed")
            try:
                await asyncio.wait_for(self._dirty.wait(), self.poll_interval)
            except TimeoutError:
                pass

    def _vip_ready(self, lb: Obj) -> bool:
        pid = lb["spec"].get("vipPortId")
        ports = self.network.ports.items  # by key first: the VIP is in the LB's project
        port = ports.get((lb["metadata"]["namespace"], pid)) or next(
            (p for (_, name), p in ports.items() if name == pid), None)
        st = (port or {}).get("status") or {}
        return st.get("status") == "ACTIVE" and st.get("pluggedHost") == self.host \
            and pid not in self.network.unplugged

    def wanted(self) -> dict[str, Obj]:
        return {lb["metadata"]["name"]: lb for lb in self.lbs.items.values()
                if lb["spec"].get("host") == self.host
                and not lb["metadata"].get("deletionTimestamp")}

    async def sync(self) -> None:
        want = self.wanted()
        for lb in want.values():
            if self._vip_ready(lb):
                await self._apply(lb)
        for lb_id in await asyncio.to_thread(self.driver.present):
            if lb_id not in want:
                await asyncio.to_thread(self.driver.stop, lb_id, lbm.lb_netns(lb_id))
                for d in (self._applied, self._operating, self._stats_at, self._counters):
                    d.pop(lb_id, None)
                log.info("load balancer %s removed from %s", lb_id, self.host)
        for lb_id in list(self._applied):
            if lb_id in want:
                await self._observe(want[lb_id])

    async def _apply(self, lb: Obj) -> None:
        md = lb["metadata"]
        lb_id, gen = md["name"], int(md.get("generation") or 1)
        st = lb.get("status") or {}
        new = lbplan.plan(lb)
        t0 = time.perf_counter()
        try:
            action = await asyncio.to_thread(self.driver.ensure, new, lbm.lb_netns(lb_id),
                                             self._applied.get(lb_id))
        except Exception as exc:  # one LB must not block the others
            self.failures[lb_id] = f"{type(exc).__name__}: {exc}"
            log.warning("load balancer %s: %s", lb_id, exc)
            if st.get("errorGeneration") != gen:
                await self._status(md, {"error": str(exc)[:500], "errorGeneration": gen})
                await self._event(lb, "HaproxyFailed", str(exc)[:300], "Warning")
            return
        self.failures.pop(lb_id, None)
        self._applied[lb_id] = new
        self.actions[action] = self.actions.get(action, 0) + 1
        if action != "unchanged":
            await self._event(lb, f"Haproxy{action.capitalize()}",
                              f"generation {gen} served in {lbm.lb_netns(lb_id)} on "
                              f"{self.host} ({(time.perf_counter() - t0) * 1000:.0f} ms)")
        if st.get("observedGeneration") != gen or st.get("host") != self.host:
            await self._status(md, {"observedGeneration": gen, "host": self.host,
                                    "error": None, "errorGeneration": None})

    async def _observe(self, lb: Obj) -> None:
        md = lb["metadata"]
        lb_id = md["name"]
        try:
            rows = await asyncio.to_thread(self.driver.stats, lb_id)
        except Exception as exc:
            self.failures[f"stats {lb_id}"] = str(exc)
            return
        self.failures.pop(f"stats {lb_id}", None)
        oper = lbplan.operating(lb, rows)
        last, base = self._counters.get(lb_id, ({}, {}))
        raw = lbplan.numbers(rows)
        base, nums = lbplan.accumulate(last, base, raw)
        self._counters[lb_id] = (raw, base)
        self._export(lb, oper, nums)
        before = self._operating.get(lb_id) or ((lb.get("status") or {}).get("operating") or {})
        now = time.monotonic()
        changed = oper != before
        if changed:
            await self._transitions(lb, before, oper)
        if changed or now - self._stats_at.get(lb_id, 0.0) >= STATS_WRITE_INTERVAL:
            await self._status(md, {"operating": oper, "stats": nums})
            self._operating[lb_id] = oper
            self._stats_at[lb_id] = now

    async def _transitions(self, lb: Obj, before: dict[str, str], after: dict[str, str]
                           ) -> None:
        for ident, state in after.items():
            if before.get(ident) not in (None, state):
                kind = "Warning" if state in ("ERROR", "DEGRADED") else "Normal"
                await self._event(lb, "OperatingStatusChanged",
                                  f"{ident}: {before[ident]} -> {state}", kind)

    def _export(self, lb: Obj, oper: dict[str, str], nums: dict[str, dict[str, int]]) -> None:
        md = lb["metadata"]
        labels = (self.host, md["namespace"], md["name"])
        for ident, stats in nums.items():
            for stat, value in stats.items():
                LB_STAT.labels(*labels, ident, stat).set(value)
        for ident, state in oper.items():
            for s in ("ONLINE", "DEGRADED", "ERROR", "OFFLINE", "NO_MONITOR", "DRAINING"):
                LB_STATUS.labels(*labels, ident, s).set(1 if s == state else 0)

    async def _status(self, md: Obj, status: Obj) -> None:
        try:
            await self.api.patch("loadbalancers", md["name"], {"status": status},
                                 md["namespace"], status=True)
        except errors.NotFound:
            pass

    async def _event(self, lb: Obj, reason: str, message: str, type_: str = "Normal") -> None:
        ev = event_object(lb, COMPONENT, reason, message, type_=type_)
        try:
            await self.api.create("events", ev, ev["metadata"]["namespace"])
        except Exception:  # an event is best effort; the state is what matters
            log.warning("could not record event %s", reason)

    def debug_state(self) -> dict[str, Any]:
        return {"loadbalancers": sorted(self._applied), "actions": dict(self.actions),
                "failures": dict(self.failures), "operating": dict(self._operating)}
