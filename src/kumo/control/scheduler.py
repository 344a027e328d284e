"""The scheduler: binds unscheduled servers to hosts with atomic capacity claims.

A claim adds the server to ``Host.status.allocations`` with a compare-and-swap
on the Host's resourceVersion, so two schedulers (or replicas) can never
overcommit a host: the loser of a race gets Conflict, re-reads and re-filters.
Then the server is bound (``spec.host``, host label, the agent's finalizer).
A build the agent reports failed is released and rescheduled elsewhere, up to
``max_attempts``; with no host left the server goes to ERROR with the reasons.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import secrets
import time
from typing import Any

from kumo import store
from kumo.common.reconciler import Controller, Requeue
from kumo.model import compute as cm
from kumo.model import events

from . import placement
from .plane import ControlPlane

log = logging.getLogger("kumo.control.scheduler")
COMPONENT = "scheduler"
Key = tuple[str, str]


def now_iso() -> str:
    return store.now_iso()


class Scheduler:
    def __init__(self, objects: store.ObjectStore, *, pack: bool = False,
                 max_attempts: int = 3, sweep_interval: float = 10.0) -> None:
        self.objects = objects
        self.pack = pack
        self.max_attempts = max_attempts
        self.sweep_interval = sweep_interval
        self.controller = Controller("scheduler", self.reconcile)
        self.decisions = 0
        self.claim_conflicts = 0
        self.no_valid_host = 0
        # watch-fed caches of Hosts and Leases: no full list per decision
        self.hosts: dict[str, dict[str, Any]] = {}
        self.leases: dict[str, dict[str, Any]] = {}
        self._synced: set[str] = set()

    # ---- sources ---------------------------------------------------------
    async def _on_event(self, ev: store.WatchEvent) -> None:
        obj = ev.object or {}
        if ev.type == "DELETED":
            host = (obj.get("spec") or {}).get("host")
            if host:
                self.controller.enqueue(("release", host, obj["metadata"]["uid"]))
            return
        if self._wants_work(obj):
            md = obj["metadata"]
            self.controller.enqueue((md["namespace"], md["name"]))

    async def _on_sync(self, items: list[dict[str, Any]]) -> None:
        for obj in items:
            await self._on_event(store.WatchEvent("ADDED", obj, 0))

    @staticmethod
    def _wants_work(obj: dict[str, Any]) -> bool:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if obj["metadata"].get("deletionTimestamp"):
            return False
        if not spec.get("host"):
            return status.get("vmState") != "error"
        return bool(status.get("buildFailure"))

    def _cache_for(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.hosts if kind == cm.HOST else self.leases

    def _remember(self, obj: dict[str, Any]) -> None:
        """Keep the newest version (by resourceVersion) of a Host or Lease."""
        cache = self._cache_for(obj["kind"])
        name = obj["metadata"]["name"]
        old = cache.get(name)
        if old is None or int(old["metadata"]["resourceVersion"]) <= int(
                obj["metadata"]["resourceVersion"]):
            cache[name] = obj

    def _infra_watch(self, kind: str) -> Any:
        async def on_event(ev: store.WatchEvent) -> None:
            if ev.object is None:
                return
            if ev.type == "DELETED":
                self._cache_for(kind).pop(ev.object["metadata"]["name"], None)
            else:
                self._remember(ev.object)

        async def on_sync(items: list[dict[str, Any]]) -> None:
            self._cache_for(kind).clear()
            for obj in items:
                self._remember(obj)
            self._synced.add(kind)

        return store.watchloop.watch_forever(self.objects, kind, None, on_event, on_sync)

    async def run(self) -> None:
        await asyncio.gather(
            self._infra_watch(cm.HOST), self._infra_watch(cm.LEASE),
            self.controller.run(), self._sweep_loop(),
            store.watchloop.watch_forever(self.objects, cm.SERVER, None, self._on_event,
                                          self._on_sync))

    # ---- reconcile -------------------------------------------------------
    async def reconcile(self, key: tuple[str, ...]) -> Requeue | None:
        if key[0] == "release":
            await self.release(key[1], key[2])
            return None
        server = await self.objects.try_get(cm.SERVER, key[0], key[1])
        if server is None or not self._wants_work(server):
            return None
        if server["spec"].get("host"):
            await self._handle_build_failure(server)
            return None
        return await self._schedule(server)

    async def _schedule(self, server: dict[str, Any]) -> Requeue | None:
        req = await self._request(server)
        for _ in range(20):
            hosts = await self._hosts()
            ok, rejected = placement.candidates(hosts, req, pack=self.pack)
            if not ok:
                await self._fail(server, placement.no_valid_host_message(len(hosts), rejected))
                self.no_valid_host += 1
                return None
            claimed, claim = None, secrets.token_hex(8)
            for h in ok:
                if await self._claim(h, server, req, claim):
                    claimed = h.name
                    break
            if claimed is None:
                continue
            self.decisions += 1
            if not await self._bind(server, claimed):
                await self.release(claimed, req.uid, claim)
            return None
        return Requeue(0.5)

    async def _request(self, server: dict[str, Any]) -> placement.Request:
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
                req.group_policy = group["spec"].get("policy")
                members = await self.objects.list(cm.SERVER, ns)
                req.group_hosts = [m["spec"]["host"] for m in members.items
                                   if m["spec"].get("group") == group_id and m["spec"].get("host")
                                   and m["metadata"]["uid"] != req.uid
                                   and not m["metadata"].get("deletionTimestamp")]
        return req

    async def _hosts(self) -> list[placement.HostView]:
        if {cm.HOST, cm.LEASE} <= self._synced:
            hosts, leases = list(self.hosts.values()), self.leases
        else:
            hosts = (await self.objects.list(cm.HOST)).items
            leases = {le["metadata"]["name"]: le
                      for le in (await self.objects.list(cm.LEASE)).items}
        return [placement.HostView(h["metadata"]["name"], h, leases.get(h["metadata"]["name"]))
                for h in hosts]

    async def _claim(self, h: placement.HostView, server: dict[str, Any],
                     req: placement.Request, claim: str) -> bool:
        host = copy.deepcopy(h.host)
        allocs = host.setdefault("status", {}).setdefault("allocations", {})
        if req.uid in allocs:
            return False  # another scheduler holds a claim for this server here
        allocs[req.uid] = {"vcpus": req.vcpus, "memoryMb": req.memory_mb, "diskGb": req.disk_gb,
                           "server": server["metadata"]["name"],
                           "namespace": server["metadata"]["namespace"],
                           "claim": claim, "claimedAt": time.time()}
        try:
            self._remember(await self.objects.update(host))
            return True
        except (store.Conflict, store.NotFound):
            self.claim_conflicts += 1
            fresh = await self.objects.try_get(cm.HOST, "", h.name)
            if fresh is not None:
                self._remember(fresh)
            return False

    async def _bind(self, server: dict[str, Any], host: str) -> bool:
        ns, name = server["metadata"]["namespace"], server["metadata"]["name"]
        for _ in range(10):
            if server["metadata"].get("deletionTimestamp") or server["spec"].get("host"):
                return False
            new = copy.deepcopy(server)
            new["spec"]["host"] = host
            md = new["metadata"]
            md.setdefault("labels", {})[cm.HOST_LABEL] = host
            if cm.AGENT_FINALIZER not in md.setdefault("finalizers", []):
                md["finalizers"].append(cm.AGENT_FINALIZER)
            st = new.setdefault("status", {})
            st.update({"taskState": "spawning", "host": host,
                       "attempts": int(st.get("attempts", 0)) + 1})
            try:
                await self.objects.update(new)
            except store.Conflict:
                fresh = await self.objects.try_get(cm.SERVER, ns, name)
                if fresh is None:
                    return False
                server = fresh
                continue
            except store.NotFound:
                return False
            await self._event(server, "Scheduled", f"bound to host {host}")
            return True
        return False

    async def release(self, host_name: str, uid: str, claim: str | None = None) -> None:
        """Drop a server's allocation from a host (CAS, retried); only ``claim``'s if given."""
        for attempt in range(200):
            host = await self.objects.try_get(cm.HOST, "", host_name)
            alloc = (host or {}).get("status", {}).get("allocations", {}).get(uid)
            if alloc is None or (claim is not None and alloc.get("claim") != claim):
                return
            del host["status"]["allocations"][uid]
            try:
                self._remember(await self.objects.update(host))
                return
            except store.Conflict:
                # A busy host (many claims at once): back off a little, never give up
                # early, or the loser of a race would keep capacity it does not use.
                await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 25)))
                continue
        log.warning("could not release %s's claim on %s; the sweep will", uid, host_name)

    async def _handle_build_failure(self, server: dict[str, Any]) -> None:
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

    async def _fail(self, server: dict[str, Any], message: str) -> None:
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

    async def _event(self, server: dict[str, Any], reason: str, message: str,
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
        for host in (await self.objects.list(cm.HOST)).items:
            name = host["metadata"]["name"]
            for uid, alloc in list((host.get("status") or {}).get("allocations", {}).items()):
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
