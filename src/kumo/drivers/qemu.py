"""The QEMU compute driver: detached QEMU processes driven over QMP.

Each VM lives in its own directory (qemu_vmdir); QEMU runs in its own session
so it survives the agent, and a new driver on the same state dir adopts it by
pidfile + /proc check + QMP reconnect. Lifecycle goes through QMP:
system_powerdown, system_reset, stop, cont, quit, query-status.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
from pathlib import Path

from . import qemu_proc as proc
from .accel import detect_accelerator
from .compute import (
    ControlFailed,
    HostInfo,
    InvalidPowerState,
    NicSpec,
    Power,
    SpawnFailed,
    VMNotFound,
    VMSpec,
    VMState,
    validate_id,
)
from .qemu_argv import build_argv, nic_ids
from .qemu_qmp import Monitors
from .qemu_vmdir import VMDir, list_ids

QMP_READY_TIMEOUT = 10.0
STATUS_TO_POWER = {"running": Power.RUNNING, "paused": Power.PAUSED,
                   "suspended": Power.PAUSED, "prelaunch": Power.PAUSED,
                   "shutdown": Power.SHUTDOWN, "guest-panicked": Power.CRASHED,
                   "internal-error": Power.CRASHED, "io-error": Power.CRASHED}


class QemuDriver:
    def __init__(self, state_dir: Path, accel: str | None = None,
                 qemu_binary: str = "qemu-system-x86_64", qemu_img: str = "qemu-img") -> None:
        self.state_dir = Path(state_dir).absolute()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.accel = accel or detect_accelerator()
        self.binary = qemu_binary
        self.qemu_img = qemu_img
        self.monitors = Monitors()
        self._locks: dict[str, asyncio.Lock] = {}
        self._children: set[int] = set()  # QEMUs this process started: reaped when they exit
        self._pidfds: dict[int, int] = {}

    def _reap(self) -> None:
        for pid in list(self._children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self._children.discard(pid)

    def _watch_child(self, pid: int) -> None:
        """Reap our QEMU the moment it exits (a pidfd turns readable), not at the next poll."""
        self._children.add(pid)
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return  # _reap() at the next state() still collects it
        self._pidfds[pid] = fd
        asyncio.get_running_loop().add_reader(fd, self._child_exited, pid)

    def _child_exited(self, pid: int) -> None:
        fd = self._pidfds.pop(pid, None)
        if fd is not None:
            asyncio.get_running_loop().remove_reader(fd)
            os.close(fd)
        self._reap()

    def _lock(self, vm_id: str) -> asyncio.Lock:
        return self._locks.setdefault(vm_id, asyncio.Lock())

    async def host_info(self) -> HostInfo:
        usage = shutil.disk_usage(self.state_dir)
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return HostInfo(vcpus=os.cpu_count() or 1, memory_mb=pages // (1 << 20),
                        disk_gb=usage.total // (1 << 30), accelerator=self.accel,
                        hypervisor_type="QEMU", cpu_arch=platform.machine())

    # ---- observation -----------------------------------------------------------
    def _pid(self, vd: VMDir) -> int | None:
        pid = vd.read_pid()
        return pid if proc.running_qemu(pid, vd.id, vd.pidfile) else None

    async def state(self, vm_id: str) -> VMState:
        self._reap()
        vd = VMDir(self.state_dir, validate_id(vm_id))
        if not vd.exists():
            return VMState(vm_id, Power.ABSENT, None, self.accel)
        pid = self._pid(vd)
        if pid is None:
            power = Power.CRASHED if vd.pidfile.exists() else Power.SHUTDOWN
            return VMState(vm_id, power, None, self.accel)
        try:
            st = await self.monitors.execute(vm_id, vd.qmp, "query-status")
            power = STATUS_TO_POWER.get(st.get("status"), Power.RUNNING)
        except ControlFailed:
            power = Power.RUNNING
        return VMState(vm_id, power, pid, self.accel)

    async def list_vms(self) -> list[VMState]:
        return [await self.state(i) for i in list_ids(self.state_dir)]

    def console_stamp(self, vm_id: str) -> tuple[int, int] | None:
        """(size, mtime_ns) of the console log: a cheap "did it change?" for pollers."""
        try:
            st = VMDir(self.state_dir, validate_id(vm_id)).console.stat()
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns

    async def console_output(self, vm_id: str, length: int | None = None) -> str:
        vd = VMDir(self.state_dir, validate_id(vm_id))
        if not vd.exists():
            raise VMNotFound(vm_id)
        return await asyncio.to_thread(vd.console_tail, length)

    # ---- lifecycle --------------------------------------------------------------
    async def spawn(self, spec: VMSpec) -> VMState:
        spec.validate()
        async with self._lock(spec.id):
            vd = VMDir(self.state_dir, spec.id)
            if vd.exists() and self._pid(vd) is not None:
                return await self.state(spec.id)
            vd.create()
            if spec.image_path is not None and not vd.disk.exists():
                await self._overlay(spec, vd)
            vd.save(spec, self.accel)
            await self._start(spec, vd)
        return await self.state(spec.id)

    async def _overlay(self, spec: VMSpec, vd: VMDir) -> None:
        argv = [self.qemu_img, "create", "-q", "-f", "qcow2", "-F", spec.image_format,
                "-b", str(spec.image_path), str(vd.disk) + ".tmp"]
        if spec.root_gb > 0:
            argv.append(f"{spec.root_gb}G")
        p = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                 stderr=asyncio.subprocess.PIPE)
        _, err = await p.communicate()
        if p.returncode != 0 and spec.root_gb > 0 and b"smaller" in err:
            argv.pop()  # the image is bigger than the flavor's disk: keep its size
            p = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                     stderr=asyncio.subprocess.PIPE)
            _, err = await p.communicate()
        if p.returncode != 0:
            raise SpawnFailed(f"qemu-img create failed: {err.decode(errors='replace')[-300:]}")
        os.replace(str(vd.disk) + ".tmp", vd.disk)

    async def _start(self, spec: VMSpec, vd: VMDir) -> None:
        vd.clear_runtime()
        vd.rotate_console()
        argv = build_argv(spec, vd, self.accel, self.binary, has_disk=vd.disk.exists())
        fd = vd.open_log()
        try:
            pid = proc.launch(argv, fd, vd.path)
        except OSError as exc:
            raise SpawnFailed(f"cannot start {self.binary}: {exc}") from exc
        finally:
            os.close(fd)
        self._watch_child(pid)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + QMP_READY_TIMEOUT
        while True:
            if not proc.alive(pid):
                raise SpawnFailed(f"QEMU exited at start: {vd.log_tail(10)}")
            if vd.qmp.exists():
                try:
                    await self.monitors.connect(spec.id, vd.qmp)
                    return
                except ControlFailed:
                    pass
            if loop.time() > deadline:
                proc.kill(pid, spec.id, vd.pidfile)
                await proc.wait_gone(pid, 5)
                vd.clear_runtime()
                raise SpawnFailed(f"QEMU did not open its QMP socket in time: {vd.log_tail(10)}")
            await asyncio.sleep(0.02)

    async def _require_running(self, vm_id: str) -> tuple[VMDir, int]:
        vd = VMDir(self.state_dir, validate_id(vm_id))
        if not vd.exists():
            raise VMNotFound(vm_id)
        pid = self._pid(vd)
        if pid is None:
            raise InvalidPowerState(f"{vm_id} is not running")
        return vd, pid

    async def _running_spec(self, vm_id: str) -> tuple[VMDir, VMSpec, str]:
        """A running VM's directory with the spec and accelerator it was started with."""
        vd, _ = await self._require_running(vm_id)
        loaded = vd.load()
        if loaded is None:
            raise VMNotFound(vm_id)
        return vd, loaded[0], loaded[1]

    async def reboot(self, vm_id: str, hard: bool) -> None:
        """Soft and hard both reset the machine: kumo-tiny has no ACPI reboot path."""
        vd, _ = await self._require_running(vm_id)
        await self.monitors.execute(vm_id, vd.qmp, "system_reset")
        st = await self.state(vm_id)
        if st.power == Power.PAUSED:
            await self.monitors.execute(vm_id, vd.qmp, "cont")

    async def power_off(self, vm_id: str, graceful_timeout: float = 10) -> None:
        async with self._lock(vm_id):
            vd = VMDir(self.state_dir, validate_id(vm_id))
            if not vd.exists():
                raise VMNotFound(vm_id)
            pid = self._pid(vd)
            if pid is None:
                vd.clear_runtime()  # already off; a crashed VM's stale pidfile goes too
                return
            # A paused guest cannot see the ACPI button: go straight to quit.
            if graceful_timeout <= 0 or (await self.state(vm_id)).power != Power.RUNNING:
                await self._quit(vd, pid)
            else:
                try:
                    await self.monitors.execute(vm_id, vd.qmp, "system_powerdown")
                except ControlFailed:
                    pass
                if not await proc.wait_gone(pid, graceful_timeout):
                    await self._quit(vd, pid)
            await self.monitors.drop(vm_id)
            vd.clear_runtime()

    async def _quit(self, vd: VMDir, pid: int) -> None:
        """QMP quit, then SIGKILL if QEMU does not go within 3 s."""
        try:
            await self.monitors.execute(vd.id, vd.qmp, "quit")
        except ControlFailed:
            pass
        if not await proc.wait_gone(pid, 3):
            proc.kill(pid, vd.id, vd.pidfile)
            await proc.wait_gone(pid, 5)

    async def power_on(self, spec: VMSpec) -> VMState:
        async with self._lock(spec.id):
            vd = VMDir(self.state_dir, validate_id(spec.id))
            if not vd.exists():
                raise VMNotFound(spec.id)
            if self._pid(vd) is None:
                saved = vd.load()
                await self._start(saved[0] if saved else spec, vd)
        return await self.state(spec.id)

    async def pause(self, vm_id: str) -> None:
        vd, _ = await self._require_running(vm_id)
        await self.monitors.execute(vm_id, vd.qmp, "stop")

    async def unpause(self, vm_id: str) -> None:
        vd, _ = await self._require_running(vm_id)
        await self.monitors.execute(vm_id, vd.qmp, "cont")

    async def snapshot(self, vm_id: str, dest: Path) -> None:
        """qemu-img convert of the overlay and its backing chain into one qcow2.

        A running guest is stopped over QMP first (QEMU flushes its block layer on
        stop, so the file is consistent), read with -U (QEMU holds the image lock),
        and continued afterwards, as Nova's libvirt driver does for a cold snapshot."""
        async with self._lock(vm_id):
            vd = VMDir(self.state_dir, validate_id(vm_id))
            if not vd.exists() or not vd.disk.exists():
                raise VMNotFound(vm_id)
            running = self._pid(vd) is not None and (
                await self.state(vm_id)).power == Power.RUNNING
            if running:
                await self.monitors.execute(vm_id, vd.qmp, "stop")
            try:
                await self._convert(vd.disk, dest)
            finally:
                if running:
                    await self.monitors.execute(vm_id, vd.qmp, "cont")

    async def _convert(self, src: Path, dest: Path) -> None:
        tmp = dest.with_name(dest.name + ".tmp")
        argv = [self.qemu_img, "convert", "-U", "-q", "-f", "qcow2", "-O", "qcow2",
                str(src), str(tmp)]
        p = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                 stderr=asyncio.subprocess.PIPE)
        _, err = await p.communicate()
        if p.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise ControlFailed(f"qemu-img convert failed: {err.decode(errors='replace')[-300:]}")
        os.replace(tmp, dest)

    # ---- NIC hot-plug ---------------------------------------------------------------
    async def nics(self, vm_id: str) -> list[NicSpec]:
        loaded = VMDir(self.state_dir, validate_id(vm_id)).load()
        if loaded is None:
            raise VMNotFound(vm_id)
        return list(loaded[0].nics)

    async def attach_nic(self, vm_id: str, nic: NicSpec) -> None:
        nic.validate()
        async with self._lock(vm_id):
            vd, spec, accel = await self._running_spec(vm_id)
            if any(n.port_id == nic.port_id for n in spec.nics):
                return
            netdev, device = nic_ids(nic.port_id)
            await self.monitors.execute(vm_id, vd.qmp, "netdev_add", {
                "type": "tap", "id": netdev, "ifname": nic.tap, "script": "no",
                "downscript": "no"})
            try:
                await self.monitors.execute(vm_id, vd.qmp, "device_add", {
                    "driver": "virtio-net-pci", "id": device, "netdev": netdev,
                    "mac": nic.mac})
            except ControlFailed:
                await self.monitors.execute(vm_id, vd.qmp, "netdev_del", {"id": netdev})
                raise
            spec.nics.append(nic)
            vd.save(spec, accel)

    async def detach_nic(self, vm_id: str, port_id: str, timeout: float = 10.0) -> None:
        async with self._lock(vm_id):
            vd, spec, accel = await self._running_spec(vm_id)
            netdev, device = nic_ids(port_id)
            if any(n.port_id == port_id for n in spec.nics):
                try:
                    await self.monitors.execute(vm_id, vd.qmp, "device_del", {"id": device})
                except ControlFailed as exc:
                    if "not found" not in str(exc):
                        raise
                # The guest ejects the device (ACPI); wait until QEMU has removed it.
                loop = asyncio.get_running_loop()
                deadline = loop.time() + timeout
                while loop.time() < deadline:
                    kids = await self.monitors.execute(vm_id, vd.qmp, "qom-list",
                                                       {"path": "/machine/peripheral"})
                    if all(k.get("name") != device for k in kids):
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise ControlFailed(f"guest did not release NIC {device} in {timeout:g} s")
                try:
                    await self.monitors.execute(vm_id, vd.qmp, "netdev_del", {"id": netdev})
                except ControlFailed:
                    pass
                spec.nics = [n for n in spec.nics if n.port_id != port_id]
                vd.save(spec, accel)

    async def destroy(self, vm_id: str) -> None:
        async with self._lock(vm_id):
            vd = VMDir(self.state_dir, validate_id(vm_id))
            if not vd.exists():
                return
            pid = self._pid(vd)
            if pid is not None:
                await self._quit(vd, pid)
            await self.monitors.drop(vm_id)
            vd.remove()
        self._locks.pop(vm_id, None)

    async def cleanup_orphans(self, keep: set[str]) -> list[str]:
        """Destroy every VM on this host whose id is not in ``keep``."""
        removed = []
        for vm_id in list_ids(self.state_dir):
            if vm_id not in keep:
                await self.destroy(vm_id)
                removed.append(vm_id)
        return removed

    async def close(self) -> None:
        """Drop QMP connections and child watches; the VMs keep running."""
        await self.monitors.close()
        loop = asyncio.get_running_loop()
        for fd in self._pidfds.values():
            loop.remove_reader(fd)
            os.close(fd)
        self._pidfds.clear()
