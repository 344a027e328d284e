"""The scheduler: binds unscheduled servers to hosts with atomic capacity claims.

A claim (``kumo.core.claims``) adds the server to the host's HostAllocation with
a compare-and-swap on it, so two schedulers (or replicas) can never overcommit a
host: the loser of a race re-reads and re-filters that host. Hosts, Leases and
HostAllocations are read from Informers (watch-fed), never listed per decision.
Then the server is bound (``spec.host``, host label, the agent's finalizer).
A build the agent reports failed is released and rescheduled elsewhere, up to
``max_attempts``; with no host left the server goes to ERROR with the reasons.
A server in ERROR that asks for a hard reboot or a rebuild is built again: on its
own host if that host still takes its claim, else scheduled anew.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import secrets
import time
import weakref
from typing import Any

from kumo import store
from kumo.common.informer import Informer, key_of
from kumo.common.reconciler import Controller, Requeue
from kumo.core import claims
from kumo.core.errors import ConcurrentChange, DomainError
from kumo.model import compute as cm
from kumo.model import events

from . import placement
from .plane import ControlPlane

log = logging.getLogger("kumo.control.scheduler")
COMPONENT = "scheduler"
Key = tuple[str, str]
Obj = dict[str, Any]
RECOVER_TASK = {"reboot": "rebooting_hard", "rebuild": "rebuilding"}


def now_iso() -> str:
    return store.now_iso()


class Scheduler:
    def __init__(self, objects: store.ObjectStore, *, pack: bool = False,
                 max_attempts: int = 3, sweep_interval: float = 10.0,
                 workers: int = 4) -> None:
        self.objects = objects
        self.pack = pack
        self.max_attempts = max_attempts
        self.sweep_interval = sweep_interval
        # several decisions in flight: their claims are CAS-safe and counted as used
        # while in flight (``usage``); decisions for one server group take turns
        # (``_group_locks``), and anti-affinity is also judged on the claims themselves
        self.controller = Controller("scheduler", self.reconcile, workers=workers)
        self.usage = placement.Usage()
        self.views = placement.Views(self.usage)
        self._group_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        self.decisions = 0
        self.claim_conflicts = 0
        self.no_valid_host = 0
        # watch-fed copies of Hosts, Leases and claims: no full list per decision
        self.hosts, self.leases, self.allocs = (
            Informer(store.StoreSource(objects, kind), on_event=self._changed,
                     on_sync=self._relisted)
            for kind in (cm.HOST, cm.LEASE, cm.HOST_ALLOCATION))
        self.servers = Informer(store.StoreSource(objects, cm.SERVER), on_event=self._on_event)

    # ---- sources ---------------------------------------------------------
    def _on_event(self, typ: str, obj: Obj) -> None:
        if typ == "DELETED":
            host = (obj.get("spec") or {}).get("host")
            if host:
                self.controller.enqueue(("release", host, obj["metadata"]["uid"]))
            return
        if self._wants_work(obj):
            self.controller.enqueue(key_of(obj))

    @staticmethod
    def _wants_work(obj: Obj) -> bool:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if obj["metadata"].get("deletionTimestamp"):
            return False
        if cm.recovery_requested(obj):
            return True
        if not spec.get("host"):
            return status.get("vmState") != "error"
        return bool(status.get("buildFailure"))

    def _remember(self, alloc: Obj | None) -> None:
        """Our own claim's write, seen before its watch event arrives (newest wins)."""
        if alloc is None:
            return
        key = key_of(alloc)
        old = self.allocs.items.get(key)
        if old is None or int(old["metadata"]["resourceVersion"]) <= int(
                alloc["metadata"]["resourceVersion"]):
            self.allocs.items[key] = alloc
            self.views.stale.add(key[1])

    async def run(self) -> None:
        try:
            await claims.migrate_legacy(self.objects)
        except (store.StoreError, DomainError):
            log.exception("could not move legacy Host.status.allocations")
        await asyncio.gather(self.hosts.run(), self.leases.run(), self.allocs.run(),
                             self.servers.run(), self.controller.run(), self._sweep_loop())

    # ---- reconcile -------------------------------------------------------
    async def reconcile(self, key: tuple[str, ...]) -> Requeue | None:
        if key[0] == "release":
            await self.release(key[1], key[2])
            return None
        server = await self.objects.try_get(cm.SERVER, key[0], key[1])
        if server is None or not self._wants_work(server):
            return None
        if cm.recovery_requested(server):
            await self._recover(server)
            return None
        if server["spec"].get("host"):
            await self._handle_build_failure(server)
            return None
        group = server["spec"].get("group")
        if not group:
            return await self._schedule(server)
        lock = self._group_locks.get(group)
        if lock is None:
            lock = self._group_locks[group] = asyncio.Lock()
        async with lock:  # the previous member's claim is in ``allocs`` before we look
            return await self._schedule(server)

    async def _schedule(self, server: Obj) -> Requeue | None:
        req = await self._request(server)
        for _ in range(20):
            hosts = await self._hosts()
            ok, rejected = placement.best(hosts, req, pack=self.pack)
            if not ok and self.usage.pending:
                return Requeue(0.2)  # the claims in flight may yet fail and free room
            if not ok:
                self.no_valid_host += 1  # counted before the writes: a reader sees both
                await self._fail(server, placement.no_valid_host_message(len(hosts), rejected))
                return None
            claimed, token = None, secrets.token_hex(8)
            for h in ok:
                if await self._claim(h, server, req, token):
                    claimed = h.name
                    break
            if claimed is None:
                continue
            self.decisions += 1
            if not await self._bind(server, claimed):
                await self.release(claimed, req.uid, token)
            return None
        return Requeue(0.5)

    async def _request(self, server: Obj) -> placement.Request:
        spec, status = server["spec"], server.get("status") or {}
        flavor = spec.get("flavor") or {}
        req = placement.Request(
            uid=server["metadata"]["uid"], vcpus=int(flavor.get("vcpus", 1)),
            memory_mb=int(flavor.get("ram", 0)),
            disk_gb=int(flavor.get("disk", 0)) + int(flavor.get("ephemeral", 0)),
            availability_zone=spec.get("availabilityZone") or None,
            image_properties=(spec.get("image") or {}).get("properties") or {},
            excluded_hosts=list(status.get("excludedHosts") or []),
            requested_host=spec.get("requestedHost") or None)
        group_id = spec.get("group")
        if group_id:
            ns = server["metadata"]["namespace"]
            group = await self.objects.try_get(cm.SERVER_GROUP, ns, group_id)
            if group is not None:
                req.group_policy, req.group_id = group["spec"].get("policy"), group_id
                req.group_hosts = self._group_hosts(ns, group_id, req.uid)
        return req

    def _group_hosts(self, ns: str, group_id: str, uid: str) -> list[str]:
        """Hosts of the group's other members: bound ones (the Server informer) and
        claimed ones (claims carry their group; ours are in ``allocs`` at once)."""
        hosts = [m["spec"]["host"] for m in self.servers.values()
                 if m["spec"].get("group") == group_id and m["spec"].get("host")
                 and m["metadata"]["namespace"] == ns and m["metadata"]["uid"] != uid
                 and not m["metadata"].get("deletionTimestamp")]
        for alloc in self.allocs.values():
            if any(a.get("group") == group_id and u != uid
                   for u, a in claims.allocations(alloc).items()):
                hosts.append(alloc["metadata"]["name"])
        return hosts

    async def _hosts(self) -> list[placement.HostView]:
        """Every Host as a candidate, from the informers (waited for after a start)."""
        for informer in (self.hosts, self.leases, self.allocs):
            await informer.synced.wait()
        return self.views.current(self.hosts.items, self.leases.items, self.allocs.items)

    def _changed(self, typ: str, obj: Obj) -> None:
        self.views.stale.add(obj["metadata"]["name"])

    def _relisted(self, items: list[Obj]) -> None:
        self.views.stale_all = True

    def _counted_conflict(self) -> None:
        self.claim_conflicts += 1

    async def _claim(self, h: placement.HostView, server: Obj, req: placement.Request,
                     token: str, *, keep_existing: bool = False) -> bool:
        """Claim ``req`` on ``h`` (re-filtered on every fresh copy of the Host)."""
        md = server["metadata"]
        want = claims.Claim(uid=req.uid, server=md["name"], namespace=md["namespace"],
                            vcpus=req.vcpus, memory_mb=req.memory_mb, disk_gb=req.disk_gb,
                            token=token, group=req.group_id)

        def fits(alloc: Obj) -> str | None:
            return placement.reject_reason(placement.HostView(h.name, h.host, h.lease, alloc),
                                           req, time.time())

        self.usage.hold(h.name, req)
        self.views.stale.add(h.name)
        try:
            self._remember(await claims.claim(
                self.objects, h.name, want, fits=fits, current=h.allocation,
                keep_existing=keep_existing, on_retry=self._counted_conflict))
            return True
        except DomainError:
            self._remember(await self.objects.try_get(cm.HOST_ALLOCATION, "", h.name))
            return False
        finally:
            self.usage.hold(h.name, req, -1)
            self.views.stale.add(h.name)

    async def _bind(self, server: Obj, host: str) -> bool:
        bound = False

        def change(new: Obj) -> Any:
            nonlocal bound
            bound = False
            if new["metadata"].get("deletionTimestamp") or new["spec"].get("host"):
                return store.UNCHANGED
            new["spec"]["host"] = host
            md = new["metadata"]
            md.setdefault("labels", {})[cm.HOST_LABEL] = host
            if cm.AGENT_FINALIZER not in md.setdefault("finalizers", []):
                md["finalizers"].append(cm.AGENT_FINALIZER)
            st = new.setdefault("status", {})
            st.update({"taskState": "spawning", "host": host,
                       "attempts": int(st.get("attempts", 0)) + 1})
            bound = True
            return None

        md = server["metadata"]
        try:
            await self.objects.mutate(cm.SERVER, md["namespace"], md["name"], change,
                                      current=server, attempts=10)
        except (store.Conflict, store.NotFound):
            return False
        if bound:
            await self._event(server, "Scheduled", f"bound to host {host}")
        return bound

    async def release(self, host_name: str, uid: str, claim: str | None = None) -> None:
        """Drop a server's allocation from a host; only ``claim``'s if given."""
        try:
            self._remember(await claims.release(self.objects, host_name, uid, claim))
        except ConcurrentChange:
            log.warning("could not release %s's claim on %s; the sweep will", uid, host_name)

    # ---- ERROR recovery --------------------------------------------------
    async def _recover(self, server: Obj) -> None:
        """Take an ERROR server's hard reboot or rebuild: claim, then hand it to a build.

        Its own host keeps it when that host still takes its claim (the claim may
        have been released when it failed); otherwise it is scheduled anew. The
        request's nonces are marked observed here, so a failed recovery ends in
        ERROR again instead of looping.
        """
        kind = cm.recovery_requested(server)
        host = server["spec"].get("host")
        if host and not await self._reclaim(server, host):
            await self.release(host, server["metadata"]["uid"])
            host = None

        def change(obj: Obj) -> Any:
            if cm.recovery_requested(obj) != kind:
                return store.UNCHANGED
            st = obj.setdefault("status", {})
            for gone in ("fault", "buildFailure"):
                st.pop(gone, None)
            st.update({"vmState": "building", "taskState": RECOVER_TASK[str(kind)],
                       "recover": kind, "excludedHosts": [], "attempts": 1 if host else 0,
                       "observedRebootNonce": cm.nonce(obj["spec"], "reboot"),
                       "observedRebuildNonce": cm.nonce(obj["spec"], "rebuild")})
            if not host:
                obj["spec"]["host"] = None
                obj["metadata"].get("labels", {}).pop(cm.HOST_LABEL, None)
                st.update({"host": None, "taskState": "scheduling"})
            return None

        md = server["metadata"]
        try:
            await self.objects.mutate(cm.SERVER, md["namespace"], md["name"], change,
                                      current=server)
        except (store.Conflict, store.NotFound):
            return
        where = f"on host {host}" if host else "to be scheduled"
        await self._event(server, "Recovering", f"{kind} of an ERROR server: rebuilt {where}")

    async def _reclaim(self, server: Obj, host: str) -> bool:
        """Claim the server's own host again (kept if it still holds a claim there)."""
        req = await self._request(server)
        req.excluded_hosts, req.requested_host = [], None
        view = next((h for h in await self._hosts() if h.name == host), None)
        if view is None:
            return False
        return await self._claim(view, server, req, secrets.token_hex(8), keep_existing=True)

    async def _handle_build_failure(self, server: Obj) -> None:
        status = server.get("status") or {}
        failure = status["buildFailure"]
        host = server["spec"]["host"]
        await self.release(host, server["metadata"]["uid"])
        new = copy.deepcopy(server)
        st = new["status"]
        st.pop("buildFailure", None)
        if int(st.get("attempts", 1)) >= self.max_attempts:
            st.update({"vmState": "error", "taskState": None, "fault": {
                "code": 500, "created": now_iso(),
                "message": f"Build of instance {server['metadata']['name']} failed after "
                           f"{st.get('attempts')} attempts; last on {host}: "
                           f"{failure.get('message')}"}})
            reason, msg = "BuildFailed", st["fault"]["message"]
        else:
            new["spec"]["host"] = None
            new["metadata"].get("labels", {}).pop(cm.HOST_LABEL, None)
            st["excludedHosts"] = [*st.get("excludedHosts", []), host]
            st.update({"taskState": "scheduling", "host": None})
            reason, msg = "Rescheduled", f"build on {host} failed: {failure.get('message')}"
        try:
            await self.objects.update(new)
        except store.Conflict:
            self.controller.enqueue((server["metadata"]["namespace"], server["metadata"]["name"]))
            return
        await self._event(server, reason, msg, warning=True)

    async def _fail(self, server: Obj, message: str) -> None:
        new = copy.deepcopy(server)
        new.setdefault("status", {}).update({
            "vmState": "error", "taskState": None,
            "fault": {"code": 500, "message": message, "created": now_iso()}})
        try:
            await self.objects.update(new)
        except (store.Conflict, store.NotFound):
            self.controller.enqueue((server["metadata"]["namespace"], server["metadata"]["name"]))
            return
        await self._event(server, "NoValidHost", message, warning=True)

    async def _event(self, server: Obj, reason: str, message: str,
                     warning: bool = False) -> None:
        try:
            await events.record(self.objects, server, COMPONENT, reason, message,
                                type_="Warning" if warning else "Normal",
                                request_id=server["spec"].get("requestId"))
        except store.StoreError:
            log.exception("could not record event")

    # ---- allocation sweep ------------------------------------------------
    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except store.StoreError:
                log.exception("allocation sweep failed")

    async def sweep(self) -> int:
        """Release allocations of servers that are gone or bound elsewhere."""
        bound = {s["metadata"]["uid"]: s["spec"].get("host")
                 for s in (await self.objects.list(cm.SERVER)).items}
        released = 0
        now = time.time()
        for held in (await self.objects.list(cm.HOST_ALLOCATION)).items:
            name = held["metadata"]["name"]
            for uid, alloc in claims.allocations(held).items():
                stale_claim = bound.get(uid, "") is None and now - alloc.get("claimedAt", 0) > 60
                if uid not in bound or bound[uid] not in (None, name) or stale_claim:
                    await self.release(name, uid)
                    released += 1
        return released

    def debug_state(self) -> dict[str, Any]:
        return {**self.controller.debug_state(), "decisions": self.decisions,
                "claim_conflicts": self.claim_conflicts, "no_valid_host": self.no_valid_host,
                "pack": self.pack, "time": time.time()}


async def run(rt: ControlPlane) -> None:
    sched = Scheduler(rt.objects)
    rt.debug_providers["scheduler"] = sched.debug_state
    await sched.run()
