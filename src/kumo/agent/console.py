"""Console upload: the serial console tail of each local VM, as a ConsoleLog object.

The API server has no access to the host's files, so the agent publishes the
console when it changes; ``openstack console log show`` reads it. The first
time the guest's boot marker appears, a GuestBooted event is recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from kumo.client import ApiClient
from kumo.common import clock, errors
from kumo.drivers.compute import ComputeDriver
from kumo.model import compute as cm

log = logging.getLogger("kumo.agent.console")
MAX_LINES = 2000
BOOT_MARKER = "kumo-tiny booted"


class ConsoleUploader:
    def __init__(self, api: ApiClient, driver: ComputeDriver, servers: dict[str, Any],
                 interval: float = 0.25) -> None:
        self.api = api
        self.driver = driver
        self.servers = servers  # (ns, name) -> server, kept by the agent's watch
        self.interval = interval
        self._digests: dict[str, str] = {}
        self._stamps: dict[str, object] = {}
        self._booted: set[str] = set()
        self.uploads = 0

    async def run(self) -> None:
        while True:
            for (ns, name), server in list(self.servers.items()):
                try:
                    await self._sync(ns, name, server)
                except (errors.StoreError, OSError) as exc:
                    log.debug("console sync of %s failed: %s", name, exc)
            await asyncio.sleep(self.interval)

    async def _sync(self, ns: str, name: str, server: dict[str, Any]) -> None:
        stamp_of = getattr(self.driver, "console_stamp", None)
        stamp = stamp_of(name) if stamp_of is not None else None
        if stamp is not None and self._stamps.get(name) == stamp:
            return  # unchanged since the last upload: no read, no hash
        try:
            text = await self.driver.console_output(name, MAX_LINES)
        except Exception:  # the VM may be gone already
            return
        digest = hashlib.sha1(text.encode(errors="replace")).hexdigest()
        if self._digests.get(name) == digest:
            if stamp is not None:
                self._stamps[name] = stamp
            return
        obj = {"kind": cm.CONSOLE_LOG, "metadata": {"name": name, "namespace": ns},
               "spec": {"text": text, "updated": clock.now_iso()}}
        try:
            await self.api.patch("consolelogs", name, {"spec": obj["spec"]}, ns)
        except errors.NotFound:
            obj["metadata"]["ownerReferences"] = [{
                "apiVersion": "kumo.io/v1", "kind": cm.SERVER, "name": name,
                "uid": server["metadata"]["uid"]}]
            await self.api.create("consolelogs", obj, ns)
        self._digests[name] = digest
        if stamp is not None:
            self._stamps[name] = stamp
        self.uploads += 1
        if BOOT_MARKER in text and name not in self._booted:
            self._booted.add(name)
            from kumo.model.events import event_object

            line = next(ln for ln in text.splitlines() if BOOT_MARKER in ln)
            ev = event_object(server, "guest", "GuestBooted", line.strip(),
                              request_id=server["spec"].get("requestId"))
            await self.api.create("events", ev, ns)

    def forget(self, name: str) -> None:
        self._digests.pop(name, None)
        self._stamps.pop(name, None)
        self._booted.discard(name)
