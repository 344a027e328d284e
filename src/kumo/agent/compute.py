"""The host agent's server reconciler: make this host's VMs match their Servers.

For every Server bound to this host (label ``kumo.io/host``) it converges the
VM: build (image fetch, overlay disk, QEMU) while building; power on/off,
pause, reboot and rebuild when the spec's generation is newer than the status
has observed; otherwise it only observes and reports. A server in ERROR that
asked for a hard reboot or a rebuild comes back from the scheduler as
``building`` with ``status.recover``: its VM is recreated (a rebuild from a fresh
disk, a hard reboot on the disk it has). Deletion destroys the VM and its files,
then removes the agent's finalizer. The VMs are not the agent's: they outlive
it, and a new agent adopts them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from kumo.client import ApiClient
from kumo.common import clock, errors
from kumo.common.reconciler import Controller, Requeue
from kumo.drivers import compute as drv
from kumo.model import compute as cm
from kumo.model.events import event_object

from . import compute_actions as actions
from .images import ImageFetcher
from .network import NetworkAgent, VifPlugTimeout

log = logging.getLogger("kumo.agent.compute")
COMPONENT = "compute-agent"
Key = tuple[str, str]
POWER_CODES = {"running": cm.RUNNING, "paused": cm.PAUSED, "shutdown": cm.SHUTDOWN,
               "crashed": cm.CRASHED, "absent": cm.NOSTATE}
KERNEL_CMDLINE = "console=ttyS0 quiet"


def iso_now() -> str:
    return clock.now_iso()


class ServerReconciler:
    def __init__(self, api: ApiClient, driver: drv.ComputeDriver, host: str,
                 images: ImageFetcher, accelerator: str = "tcg",
                 network: NetworkAgent | None = None) -> None:
        self.api = api
        self.network = network
        self.driver = driver
        self.host = host
        self.images = images
        self.accelerator = accelerator
        self.controller = Controller("compute-agent", self.reconcile, workers=4)
        self.builds = 0
        self.build_failures = 0

    # ---- helpers ---------------------------------------------------------
    def event_now(self, server: dict[str, Any], reason: str, message: str, *,
                  start: str | None = None, warning: bool = False) -> dict[str, Any]:
        """The Event of a step that ends now; posted later by ``post_events``."""
        return event_object(server, COMPONENT, reason, message, start=start,
                            type_="Warning" if warning else "Normal",
                            request_id=server["spec"].get("requestId"),
                            extra={"host": self.host})

    async def post_events(self, *evs: dict[str, Any]) -> None:
        async def post(ev: dict[str, Any]) -> None:
            try:
                await self.api.create("events", ev, ev["metadata"]["namespace"])
            except errors.StoreError:
                log.warning("could not record event %s", ev["reason"])
        await asyncio.gather(*(post(ev) for ev in evs))

    async def event(self, server: dict[str, Any], reason: str, message: str, *,
                    start: str | None = None, warning: bool = False) -> None:
        await self.post_events(self.event_now(server, reason, message, start=start,
                                              warning=warning))

    async def patch_status(self, server: dict[str, Any], status: dict[str, Any]
                           ) -> dict[str, Any]:
        md = server["metadata"]
        return await self.api.patch("servers", md["name"], {"status": status}, md["namespace"],
                                    status=True)

    # ---- reconcile -------------------------------------------------------
    async def reconcile(self, key: Key) -> Requeue | None:
        ns, name = key
        server = await self.api.get("servers", name, ns)
        if server is None or server["spec"].get("host") != self.host:
            await self.driver.destroy(name)  # gone, or rescheduled away: nothing may remain
            return None
        if server["metadata"].get("deletionTimestamp"):
            await self._delete(server)
            return None
        status = server.get("status") or {}
        if status.get("vmState") == "error" or status.get("buildFailure"):
            return None
        state = await self.driver.state(name)
        if status.get("vmState") == "building" or state.power == "absent":
            if status.get("vmState") not in ("building", None) and not self._spec_changed(server):
                await self._report(server, state)
                return None
            if status.get("recover"):
                await self._recover(server, str(status["recover"]), state)
            else:
                await self._build(server)
            return None
        if self._spec_changed(server):
            await self._converge(server, state)
            state = await self.driver.state(name)
        await self._report(server, state)
        return None

    @staticmethod
    def _spec_changed(server: dict[str, Any]) -> bool:
        gen = int(server["metadata"].get("generation", 1))
        return gen > int((server.get("status") or {}).get("observedGeneration", 0))

    async def _vm_spec(self, server: dict[str, Any]) -> drv.VMSpec:
        spec = server["spec"]
        image = spec.get("image") or {}
        flavor = spec.get("flavor") or {}
        props = image.get("properties") or {}
        path = await self.images.ensure(image["id"], image.get("checksum"))
        fmt = image.get("diskFormat") or "qcow2"
        kernel_id = image.get("kernelId") or props.get("kernel_id")
        ramdisk_id = image.get("ramdiskId") or props.get("ramdisk_id")
        kernel = ramdisk = None
        if kernel_id:
            kernel = await self.images.ensure(kernel_id, None)
        if ramdisk_id:
            ramdisk = await self.images.ensure(ramdisk_id, None)
        nics: list[drv.NicSpec] = []
        port_ids = list(spec.get("ports") or [])
        if port_ids:
            if self.network is None:
                raise VifPlugTimeout(port_ids[0], self.host, 0)
            nics = await self.network.plug_server_ports(server, port_ids)
        return drv.VMSpec(
            id=server["metadata"]["name"], name=spec.get("displayName") or "server",
            vcpus=int(flavor.get("vcpus", 1)), memory_mb=int(flavor.get("ram", 128)),
            root_gb=int(flavor.get("disk", 0)), image_path=path,
            image_format="qcow2" if fmt == "qcow2" else "raw",
            kernel_path=kernel, ramdisk_path=ramdisk,
            kernel_cmdline=props.get("os_command_line") or KERNEL_CMDLINE, nics=nics)

    async def _recover(self, server: dict[str, Any], kind: str, state: drv.VMState) -> None:
        """Recreate the VM of a server that was in ERROR (its claim is back)."""
        name = server["metadata"]["name"]
        t0 = iso_now()
        if kind == "rebuild":
            await self.driver.destroy(name)
        elif state.power != "absent":
            try:
                await self.driver.power_off(name, graceful_timeout=0)
            except drv.DriverError as exc:
                log.warning("hard reboot of %s: power off failed (%s); recreating", name, exc)
                await self.driver.destroy(name)
        if await self._build(server):
            await self.event(server, "Rebuilt" if kind == "rebuild" else "Rebooted",
                             f"{kind} recreated the VM of a server in ERROR", start=t0)

    async def _build(self, server: dict[str, Any]) -> bool:
        """Create the VM and report it; False when the build failed (and was reported)."""
        name = server["metadata"]["name"]
        t0 = iso_now()
        # The steps before the spawn are recorded when they end but posted after it: the
        # guest's boot (and its DHCP lease) does not wait on two Event round trips.
        steps: list[dict[str, Any]] = []
        try:
            spec = await self._vm_spec(server)
            steps.append(self.event_now(server, "ImageReady", "image in the host cache",
                                        start=t0))
            if spec.nics:
                steps.append(self.event_now(
                    server, "VifsPlugged", "ports plugged on " + self.host + ": "
                    + ", ".join(n.port_id for n in spec.nics), start=t0))
            t1 = iso_now()
            state = await self.driver.spawn(spec)
            await self.post_events(*steps, self.event_now(
                server, "Spawned", f"QEMU started (pid {state.pid}, {state.accelerator})",
                start=t1))
            steps = []
        except VifPlugTimeout as exc:
            await self.post_events(*steps)
            # Not the host's fault and not worth a reschedule: say which port, which host.
            self.build_failures += 1
            log.warning("build of %s failed: %s", name, exc)
            await self.driver.destroy(name)
            await self.event(server, "VifPlugTimeout", str(exc), start=t0, warning=True)
            await self.patch_status(server, {
                "vmState": "error", "taskState": None, "host": self.host,
                "fault": {"code": 500, "message": str(exc), "created": iso_now(),
                          "details": f"port {exc.port_id} on host {exc.host}"}})
            return False
        except Exception as exc:  # any build failure is reported and rescheduled
            await self.post_events(*steps)
            self.build_failures += 1
            log.warning("build of %s failed: %s", name, exc)
            await self.driver.destroy(name)
            await self.event(server, "BuildFailed", f"{type(exc).__name__}: {exc}", start=t0,
                             warning=True)
            await self.patch_status(server, {"buildFailure": {
                "host": self.host, "message": f"{type(exc).__name__}: {exc}", "at": iso_now()}})
            return False
        self.builds += 1
        desired = server["spec"].get("power", "on")
        if desired == "paused":
            await self.driver.pause(name)
        elif desired == "off":
            await self.driver.power_off(name)
        state = await self.driver.state(name)
        await self._report(server, state, launched=True)
        await self.event(server, "Active", "server is active", start=t0)
        return True

    async def _converge(self, server: dict[str, Any], state: drv.VMState) -> None:
        spec, status = server["spec"], server.get("status") or {}
        name = server["metadata"]["name"]
        rebuild = spec.get("rebuild") or {}
        if int(rebuild.get("nonce", 0)) > int(status.get("observedRebuildNonce", 0)):
            t0 = iso_now()
            await self.patch_status(server, {"taskState": "rebuilding"})
            await self.driver.destroy(name)
            await self._build(server)
            await self.patch_status(server, {"observedRebuildNonce": int(rebuild["nonce"])})
            await self.event(server, "Rebuilt", "server rebuilt", start=t0)
            return
        desired = spec.get("power", "on")
        t0 = iso_now()
        if desired == "off" and state.power in ("running", "paused"):
            await self.patch_status(server, {"taskState": "powering-off"})
            await self.driver.power_off(name)
            await self.event(server, "Stopped", "server stopped", start=t0)
        elif desired in ("on", "paused") and state.power in ("shutdown", "crashed"):
            await self.patch_status(server, {"taskState": "powering-on"})
            await self.driver.power_on(await self._vm_spec(server))
            await self.event(server, "Started", "server started", start=t0)
        state = await self.driver.state(name)
        if desired == "paused" and state.power == "running":
            await self.driver.pause(name)
            await self.event(server, "Paused", "server paused", start=t0)
        elif desired == "on" and state.power == "paused":
            await self.driver.unpause(name)
            await self.event(server, "Unpaused", "server unpaused", start=t0)
        await actions.converge_suspend(self, server, state)
        await self._converge_nics(server)
        if actions.snapshot_pending(server):
            await actions.converge_snapshot(self, server, self.images.cache.dir.parent / "snap")
        reboot = spec.get("reboot") or {}
        if int(reboot.get("nonce", 0)) > int(status.get("observedRebootNonce", 0)):
            hard = reboot.get("type", "SOFT").upper() == "HARD"
            if (await self.driver.state(name)).power == "running":
                await self.patch_status(server, {
                    "taskState": "rebooting_hard" if hard else "rebooting"})
                await self.driver.reboot(name, hard=hard)
                await self.event(server, "Rebooted", f"{'hard' if hard else 'soft'} reboot",
                                 start=t0)
            await self.patch_status(server, {"observedRebootNonce": int(reboot["nonce"])})

    async def _converge_nics(self, server: dict[str, Any]) -> None:
        """os-interface attach/detach: hot-plug the difference between spec.ports and the VM."""
        name = server["metadata"]["name"]
        if (await self.driver.state(name)).power not in ("running", "paused"):
            return  # a stopped VM gets its NICs from the spec when it starts
        want = list(server["spec"].get("ports") or [])
        have = [n.port_id for n in await self.driver.nics(name)]
        for pid in have:
            if pid not in want:
                t0 = iso_now()
                await self.driver.detach_nic(name, pid)
                await self.event(server, "InterfaceDetached", f"port {pid} unplugged",
                                 start=t0)
        new = [p for p in want if p not in have]
        if not new or self.network is None:
            return
        t0 = iso_now()
        try:
            nics = await self.network.plug_server_ports(server, new)
        except VifPlugTimeout as exc:
            await self.event(server, "VifPlugTimeout", str(exc), start=t0, warning=True)
            return
        for nic in nics:
            await self.driver.attach_nic(name, nic)
            await self.event(server, "InterfaceAttached",
                             f"port {nic.port_id} hot-plugged ({nic.mac})", start=t0)

    async def _report(self, server: dict[str, Any], state: drv.VMState, *,
                      launched: bool = False) -> None:
        vm_state = actions.reported_vm_state(server, {
            "running": "active", "paused": "paused", "shutdown": "stopped",
            "crashed": "stopped", "absent": "stopped"}[str(state.power)])
        status: dict[str, Any] = {
            "vmState": vm_state, "taskState": None, "powerState": POWER_CODES[str(state.power)],
            "host": self.host, "hypervisorHostname": self.host, "pid": state.pid,
            "accelerator": state.accelerator,
            "observedGeneration": int(server["metadata"].get("generation", 1))}
        if launched:
            status["launchedAt"] = iso_now()
            status["observedRebootNonce"] = int((server["spec"].get("reboot") or {}).get(
                "nonce", 0))
            status["observedRebuildNonce"] = int((server["spec"].get("rebuild") or {}).get(
                "nonce", 0))
            if (server.get("status") or {}).get("recover"):
                status["recover"] = None  # the ERROR server's recovery is done
        old = server.get("status") or {}
        if all(old.get(k) == v for k, v in status.items()):
            return
        await self.patch_status(server, status)

    async def _delete(self, server: dict[str, Any]) -> None:
        md = server["metadata"]
        t0 = iso_now()
        await self.driver.destroy(md["name"])
        await self.event(server, "Deleted", "VM and its files removed", start=t0)
        try:
            await self.api.delete("consolelogs", md["name"], md["namespace"])
        except errors.StoreError:
            pass
        for _ in range(10):
            fresh = await self.api.get("servers", md["name"], md["namespace"])
            if fresh is None:
                return
            fins = [f for f in fresh["metadata"].get("finalizers") or []
                    if f != cm.AGENT_FINALIZER]
            patch = {"metadata": {"finalizers": fins or None,
                                  "resourceVersion": fresh["metadata"]["resourceVersion"]}}
            try:
                await self.api.patch("servers", md["name"], patch, md["namespace"])
                return
            except errors.Conflict:
                continue
            except errors.NotFound:
                return

    def debug_state(self) -> dict[str, Any]:
        return {**self.controller.debug_state(), "builds": self.builds,
                "build_failures": self.build_failures, "time": time.time()}


def state_dir_for(data_dir: Path, host: str) -> Path:
    return data_dir / "agent" / host
