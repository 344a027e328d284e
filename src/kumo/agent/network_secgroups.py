"""The host agent's firewall: security groups enforced as nftables rules on this host.

Level-triggered like the overlay: any change to a port or a security group rule
(the agent watches both over HTTP) recomputes the desired ruleset
(network_secgroups_desired.py) and the driver programs the difference in one
transaction. At start the tables are rebuilt from desired state; every
``verify_interval`` seconds the kernel's tables are read back and, if anything was
changed or deleted by hand, rebuilt (counted as a repair). Each programmed change
writes an Event on the group or port it concerns, naming this host.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from kumo.client import ApiClient, ApiSource
from kumo.common import errors
from kumo.common.informer import Informer
from kumo.drivers.nftables import ApplyResult
from kumo.drivers.nftables_render import Ruleset
from kumo.model import network as nm
from kumo.model.events import event_object
from kumo.observe import metrics

from . import network_secgroups_desired as desired_mod

log = logging.getLogger("kumo.agent.firewall")
Obj = dict[str, Any]
COMPONENT = "kumo-agent/firewall"
VERIFY_INTERVAL = 15.0
DEEP_EVERY = 4  # every 4th pass reads every rule back (a minute at the default interval)
MAX_EVENTS = 20  # per change: a full rebuild of 1,000 ports writes a summary, not 1,000


class Firewall(Protocol):
    desired: Any
    applied: Any

    def apply(self, rs: Ruleset, *, full: bool = False) -> ApplyResult: ...
    def verify(self, *, deep: bool = True) -> list[str]: ...


def firewall_for(net: Any) -> Firewall:
    """nftables beside the real Linux network driver (in its namespace); memory beside fakes."""
    from kumo.drivers.nftables import FakeFirewall, NftFirewall

    if type(net).__name__ == "LinuxNet":
        return NftFirewall(netns=getattr(net, "netns", None))
    return FakeFirewall()


class SecurityGroupAgent:
    def __init__(self, api: ApiClient, host: str, ports: Informer, firewall: Firewall, *,
                 verify_interval: float = VERIFY_INTERVAL, networks: Informer | None = None
                 ) -> None:
        self.api = api
        self.host = host
        self.ports = ports
        self.networks = networks
        self.firewall = firewall
        self.verify_interval = verify_interval
        self.rules = Informer(ApiSource(api, "securitygrouprules"), on_event=self._rule_event)
        self.index = desired_mod.RuleIndex()
        self.memo = desired_mod.Memo()
        self._dirty = asyncio.Event()
        self._since: float | None = None
        self.applies = 0
        self.verifies = 0
        self.repairs = 0
        self.last: dict[str, Any] = {}
        self.last_error = ""
        self._drift: list[str] = []

    def changed(self, typ: str = "", obj: Obj | None = None) -> None:
        if self._since is None:
            self._since = time.perf_counter()
        self._dirty.set()

    def _rule_event(self, typ: str, obj: Obj) -> None:
        self.index.event(typ, obj)
        self.changed()

    def desired(self) -> Ruleset:
        if self.index.size != len(self.rules.items):  # a re-list the events did not show
            self.index.reset(list(self.rules.items.values()))
        nets = list(self.networks.items.values()) if self.networks is not None else []
        return desired_mod.compute(self.host, list(self.ports.items.values()), self.index,
                                   self.memo, desired_mod.bridges_of(nets))

    async def run(self) -> None:
        await asyncio.gather(self.rules.run(), self._loop())

    async def _loop(self) -> None:
        await self.ports.synced.wait()
        await self.rules.synced.wait()
        full = True  # at start: rebuild from desired state, whatever the kernel holds
        next_verify = time.monotonic() + self.verify_interval
        while True:
            self._dirty.clear()
            try:
                await self.sync(full=full)
                full = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.FW_ERRORS.labels(self.host).inc()
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("firewall programming failed: %s", exc)
                full = True
                await asyncio.sleep(1.0)
                self._dirty.set()
            timeout = max(0.0, next_verify - time.monotonic())
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout)
            except TimeoutError:
                next_verify = time.monotonic() + self.verify_interval
                full = await self._verify() or full

    async def _verify(self) -> bool:
        """True when the kernel's tables differ from what was programmed (repair due)."""
        self.verifies += 1
        deep = self.verifies % DEEP_EVERY == 1 or DEEP_EVERY <= 1
        try:
            drift = await asyncio.to_thread(lambda: self.firewall.verify(deep=deep))
        except Exception as exc:  # unreadable counts as drift: the rebuild says more
            drift = [f"verify failed: {exc}"]
        if not drift:
            return False
        self.repairs += 1
        metrics.FW_REPAIRS.labels(self.host).inc()
        log.warning("firewall drift repaired (%d differences, e.g. %s)", len(drift), drift[:3])
        self._drift = drift
        self._dirty.set()
        return True

    async def sync(self, *, full: bool = False) -> ApplyResult:
        since = self._since or time.perf_counter()
        self._since = None
        if full:
            self.index.reset(list(self.rules.items.values()))
        rs = self.desired()
        result = await asyncio.to_thread(self.firewall.apply, rs, full=full)
        elapsed = time.perf_counter() - since
        self.applies += 1
        plan = self.firewall.desired
        for state in ("desired", "programmed"):
            metrics.FW_RULES.labels(self.host, state).set(plan.rules())
            metrics.FW_ELEMENTS.labels(self.host, state).set(plan.elements())
        if result.commands:
            metrics.FW_LAST_APPLY.labels(self.host).set(elapsed)
            metrics.FW_APPLY_LATENCY.labels(self.host, "full" if result.full else "change"
                                            ).observe(elapsed)
            self.last = {"seconds": round(elapsed, 4), "commands": result.commands,
                         "full": result.full, "ports": len(rs.ports), "groups": len(rs.groups),
                         "rules": plan.rules(), "set_elements": plan.elements(),
                         "at": time.time()}
            await self._events(rs, result, elapsed)
        self.last_error = ""
        return result

    async def _events(self, rs: Ruleset, result: ApplyResult, elapsed: float) -> None:
        ms = f"{elapsed * 1000:.1f} ms"
        reason, warning, note = "FirewallProgrammed", False, ""
        if result.full:
            reason = "FirewallSynced"
            note = (f"; full rebuild of {len(rs.ports)} ports, {self.firewall.desired.rules()} "
                    "nftables rules in one transaction")
        if self._drift:
            reason, warning = "FirewallRepaired", True
            note = f"; found by hand-made changes: {'; '.join(self._drift[:5])}"
            self._drift = []
        owners = self._group_namespaces()
        budget = MAX_EVENTS
        for gid in result.changed_groups[:budget]:
            if gid in owners:
                involved = {"kind": nm.SECURITY_GROUP,
                            "metadata": {"name": gid, "namespace": owners[gid]}}
                await self._event(involved, reason, f"group {gid}: {len(rs.groups.get(gid, ()))}"
                                  f" rules on {self.host} ({ms}){note}", warning=warning)
        budget -= len(result.changed_groups)
        if result.full:
            return
        by_tap = {nm.tap_name(p["metadata"]["name"]): p for p in self.ports.items.values()}
        for tap in result.changed_ports[:max(0, budget)]:
            port = by_tap.get(tap)
            if port is not None:
                what = "filtered" if tap in rs.ports else "unfiltered"
                await self._event(port, "PortFirewallProgrammed",
                                  f"port {port['metadata']['name']} {what} on {self.host} "
                                  f"({ms})")

    def _group_namespaces(self) -> dict[str, str]:
        out = {}
        for (ns, _), rule in self.rules.items.items():
            out[rule["spec"].get("securityGroupId")] = ns
        for (ns, _), port in self.ports.items.items():
            for g in port["spec"].get("securityGroups") or []:
                out.setdefault(g, ns)
        return out

    async def _event(self, involved: Obj, reason: str, message: str, *,
                     warning: bool = False) -> None:
        ev = event_object(involved, COMPONENT, reason, message,
                          type_="Warning" if warning else "Normal", extra={"host": self.host})
        try:
            await self.api.create("events", ev, ev["metadata"]["namespace"])
        except (errors.StoreError, OSError) as exc:
            log.debug("could not record event %s: %s", reason, exc)

    def debug_state(self) -> dict[str, Any]:
        applied = self.firewall.applied
        return {"applies": self.applies, "repairs": self.repairs, "last": self.last,
                "last_error": self.last_error, "rules_cached": len(self.rules.items),
                "programmed_rules": applied.rules() if applied else 0,
                "programmed_set_elements": applied.elements() if applied else 0}
