"""``kumo trace KIND/ID``: every step every component took for one object, in order.

A trace is assembled from what the components already write, never from logs:

- the object's own Events (API face, scheduler, compute agent, guest, network agent),
  each with the revision of the object it saw (``involvedObject.resourceVersion``);
- the objects themselves: creation times, IPAM's ``IPAllocation`` claims;
- every host's ``AgentReport``: its overlay syncs with the Port revision each one had
  seen, so "host B programmed port P's FDB entry" is the first sync of B whose
  revision is at least P's, and a host whose cache is behind is who we wait on.

While the object converges, ``waiting`` says who waits on whom now. A new kind plugs
in with ``@tracer("plural")`` on a coroutine ``(Tracer, obj) -> None`` that adds steps
and waits (routers, floating IPs, zones do the same as servers and ports here).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kumo import store
from kumo.common.clock import epoch
from kumo.model import compute as cm
from kumo.model import network as nm
from kumo.model import ops

Obj = dict[str, Any]
TraceFn = Callable[["Tracer", Obj], Awaitable[None]]
TRACERS: dict[str, tuple[str, TraceFn]] = {}  # plural -> (kind, how to trace it)


def tracer(plural: str, kind: str) -> Callable[[TraceFn], TraceFn]:
    """Register how to trace a kind (the one registration a new kind needs)."""
    def deco(fn: TraceFn) -> TraceFn:
        TRACERS[plural] = (kind, fn)
        return fn
    return deco


def iso(t: float | None) -> str | None:
    if not t:
        return None
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Step:
    component: str
    reason: str
    start: float
    end: float
    object: str  # KIND/name the step was about
    host: str | None = None
    revision: int | None = None
    message: str = ""
    type: str = "Normal"
    source: str = "event"  # event | object | report

    def view(self) -> Obj:
        return {"component": self.component, "reason": self.reason, "host": self.host,
                "object": self.object, "start": iso(self.start), "end": iso(self.end),
                "durationMs": round(max(0.0, self.end - self.start) * 1000, 1),
                "revision": self.revision, "message": self.message, "type": self.type,
                "source": self.source}


@dataclass
class Tracer:
    """What one trace has gathered; tracers add steps and waits to it."""

    objects: store.ObjectStore
    steps: list[Step] = field(default_factory=list)
    waiting: list[Obj] = field(default_factory=list)
    _hosts: dict[str, Obj] | None = None
    _ports: list[Obj] | None = None

    async def ports(self) -> list[Obj]:
        if self._ports is None:
            self._ports = (await self.objects.list(nm.PORT, None)).items
        return self._ports

    async def events_of(self, obj: Obj) -> None:
        md = obj["metadata"]
        found = await self.objects.list("Event", md.get("namespace") or "",
                                        label_selector=f"involved-uid={md.get('uid', '')}")
        for e in found.items:
            rv = (e.get("involvedObject") or {}).get("resourceVersion")
            self.steps.append(Step(
                e.get("component") or "?", e.get("reason") or "", epoch(e.get("startTime")),
                epoch(e.get("endTime") or e.get("startTime")), ref(obj), e.get("host"),
                int(rv) if rv else None, e.get("message") or "", e.get("type") or "Normal"))

    def created(self, obj: Obj, component: str, message: str = "") -> None:
        md = obj["metadata"]
        t = epoch(md.get("creationTimestamp"))
        self.steps.append(Step(component, "Created", t, t, ref(obj), message=message,
                               source="object"))

    def wait(self, waiter: str, on: str, what: str) -> None:
        self.waiting.append({"waiter": waiter, "on": on, "what": what})

    async def hosts(self) -> dict[str, Obj]:
        """Host name -> {"host", "lease", "report"} for every host (read once per trace)."""
        if self._hosts is None:
            hosts = (await self.objects.list(cm.HOST, "")).items
            leases = {o["metadata"]["name"]: o for o in (await self.objects.list(cm.LEASE,
                                                                                 "")).items}
            reports = {o["metadata"]["name"]: o
                       for o in (await self.objects.list(ops.AGENT_REPORT, "")).items}
            self._hosts = {h["metadata"]["name"]: {
                "host": h, "lease": leases.get(h["metadata"]["name"]),
                "report": reports.get(h["metadata"]["name"])} for h in hosts}
        return self._hosts


def ref(obj: Obj) -> str:
    return f"{obj.get('kind')}/{obj['metadata']['name']}"


def rv_of(obj: Obj) -> int:
    return int(obj["metadata"].get("resourceVersion") or 0)


def first_sync_at(report: Obj | None, revision: int) -> tuple[Obj | None, bool]:
    """The first recorded sync of a host that had seen ``revision``, and whether it may
    have happened earlier (the history kept starts after it)."""
    syncs = ((report or {}).get("status") or {}).get("syncs") or []
    for i, s in enumerate(syncs):
        if int(s.get("revision", 0)) >= revision:
            return s, i == 0 and len(syncs) >= ops.SYNC_HISTORY
    return None, False


def agent_alive(entry: Obj | None) -> bool:
    return bool(entry) and cm.lease_alive(entry.get("lease"))


async def find(objects: store.ObjectStore, kind: str, name: str,
               namespace: str | None) -> Obj:
    """The object by name in ``namespace``, or in any namespace (an admin's id lookup)."""
    if namespace is not None:
        return await objects.get(kind, namespace, name)
    for obj in (await objects.list(kind, None)).items:
        if obj["metadata"]["name"] == name:
            return obj
    raise store.NotFound(f"{kind} {name!r} not found")


async def trace(objects: store.ObjectStore, plural: str, name: str,
                namespace: str | None = None) -> Obj:
    """The trace of one object: {object, steps (by start), waiting, converged}."""
    if plural not in TRACERS:
        raise store.NotFound(f"no trace for {plural!r}; traced kinds: {sorted(TRACERS)}")
    kind, fn = TRACERS[plural]
    obj = await find(objects, kind, name, namespace)
    t = Tracer(objects)
    await fn(t, obj)
    t.steps.sort(key=lambda s: (s.start, s.end))
    t0 = t.steps[0].start if t.steps else 0.0
    steps = [{**s.view(), "atMs": round((s.start - t0) * 1000, 1)} for s in t.steps]
    md = obj["metadata"]
    return {"object": {"kind": kind, "name": md["name"], "namespace": md.get("namespace"),
                       "resourceVersion": md.get("resourceVersion"),
                       "state": state_of(obj)},
            "steps": steps, "waiting": t.waiting, "converged": not t.waiting,
            "tracedAt": iso(time.time())}


def state_of(obj: Obj) -> str:
    st = obj.get("status") or {}
    return str(st.get("vmState") or st.get("status") or st.get("phase") or "")


# ---- the kinds traced today --------------------------------------------------------
@tracer("servers", cm.SERVER)
async def trace_server(t: Tracer, server: Obj) -> None:
    t.created(server, "compute-api", "Server written (spec, ports requested)")
    await t.events_of(server)
    ns = server["metadata"]["namespace"]
    for pid in server["spec"].get("ports") or []:
        try:
            port = await t.objects.get(nm.PORT, ns, pid)
        except store.NotFound:
            t.wait("compute-agent", "network-api", f"port {pid} does not exist")
            continue
        await trace_port(t, port)
    await _server_waits(t, server)


async def _server_waits(t: Tracer, server: Obj) -> None:
    st = server.get("status") or {}
    if st.get("vmState") != "building" or server["metadata"].get("deletionTimestamp"):
        return
    host = server["spec"].get("host")
    name = server["metadata"]["name"]
    if not host:
        t.wait(f"Server/{name}", "scheduler", "not bound to a host yet")
        return
    entry = (await t.hosts()).get(host)
    if not agent_alive(entry):
        t.wait(f"Server/{name}", f"compute-agent@{host}",
               f"host {host}'s agent has no live lease: nobody is building the VM")
    elif not any(w["waiter"].startswith("compute-agent") for w in t.waiting):
        t.wait(f"Server/{name}", f"compute-agent@{host}", "building the VM")


@tracer("ports", nm.PORT)
async def trace_port(t: Tracer, port: Obj) -> None:
    t.created(port, "network-api", f"MAC {port['spec'].get('macAddress')}")
    for f in port["spec"].get("fixedIps") or []:
        try:
            alloc = await t.objects.get(nm.IP_ALLOCATION, "",
                                        f"{f.get('subnetId')}.{f.get('ipAddress')}")
        except store.NotFound:
            t.wait(ref(port), "ipam", f"no IPAllocation for {f.get('ipAddress')}")
            continue
        at = epoch(alloc["metadata"].get("creationTimestamp"))
        t.steps.append(Step("ipam", "IPAllocated", at, at, ref(port), revision=rv_of(alloc),
                            message=f"{f.get('ipAddress')} claimed on subnet "
                                    f"{f.get('subnetId')}", source="object"))
    await t.events_of(port)
    await _port_remote(t, port)


async def _port_remote(t: Tracer, port: Obj) -> None:
    """l2population on every other host of the network, DHCP on the DHCP host."""
    host = port["spec"].get("bindingHostId")
    pid = port["metadata"]["name"]
    if not host:
        return
    st = port.get("status") or {}
    hosts = await t.hosts()
    if st.get("status") != "ACTIVE" or st.get("pluggedHost") != host:
        on = f"network-agent@{host}"
        why = "agent down (no live lease)" if not agent_alive(hosts.get(host)) else "plugging"
        t.wait(f"compute-agent@{host}", on, f"port {pid} not plugged yet: {why}")
        return
    net = port["spec"].get("networkId")
    others: dict[str, set[str]] = {}
    for p in await t.ports():
        other = p["spec"].get("bindingHostId")
        if p["spec"].get("networkId") == net and other and other != host:
            roles = others.setdefault(other, {"l2pop"})
            if p["spec"].get("deviceOwner") == nm.DHCP_OWNER:
                roles.add("dhcp")
    for other, roles in sorted(others.items()):
        for role in sorted(roles):
            _remote_step(t, port, other, hosts.get(other), role)


def _remote_step(t: Tracer, port: Obj, host: str, entry: Obj | None, role: str) -> None:
    rev = rv_of(port)
    report = (entry or {}).get("report")
    sync, earlier = first_sync_at(report, rev)
    what = "FDB/ARP entries" if role == "l2pop" else "dnsmasq host entry"
    if sync is None:
        seen = ((report or {}).get("status") or {}).get("portsRevision", 0)
        why = "agent down (no live lease)" if not agent_alive(entry) else (
            f"its Port cache is at revision {seen} < {rev}")
        t.wait(ref(port), f"{role}@{host}", f"{what} not programmed yet: {why}")
        return
    t.steps.append(Step(
        role, "Programmed", float(sync["start"]), float(sync["end"]), ref(port), host,
        int(sync["revision"]), what + (" (at or before this sync)" if earlier else ""),
        source="report"))


@tracer("networks", nm.NETWORK)
async def trace_network(t: Tracer, net: Obj) -> None:
    t.created(net, "network-api", f"VNI {net['spec'].get('segmentationId')}")
    await t.events_of(net)
    nid = net["metadata"]["name"]
    for sub in (await t.objects.list(nm.SUBNET, net["metadata"]["namespace"])).items:
        if sub["spec"].get("networkId") == nid:
            t.created(sub, "network-api", f"subnet {sub['spec'].get('cidr')}")
    for port in await t.ports():
        if port["spec"].get("networkId") == nid:
            await trace_port(t, port)
