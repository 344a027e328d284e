"""The fake compute driver: the same interface, all in memory.

For control-plane tests and scale benchmarks: no processes, no files, no
tasks per VM, so one process can run hundreds of fake hosts. Boot delay and
spawn failures are injectable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .compute import (
    HostInfo,
    InvalidPowerState,
    NicSpec,
    Power,
    SpawnFailed,
    VMNotFound,
    VMSpec,
    VMState,
)


@dataclass
class _VM:
    spec: VMSpec
    power: str
    boots: int = 1


class FakeDriver:
    def __init__(self, boot_delay: float = 0.0,
                 fail_spawn: Callable[[VMSpec], bool] | None = None,
                 host_vcpus: int = 64, host_memory_mb: int = 262_144,
                 host_disk_gb: int = 4096) -> None:
        self.boot_delay = boot_delay
        self.fail_spawn = fail_spawn
        self.info = HostInfo(host_vcpus, host_memory_mb, host_disk_gb, "fake", "fake", "x86_64")
        self.vms: dict[str, _VM] = {}
        self._pids = 10_000

    async def host_info(self) -> HostInfo:
        return self.info

    def _state(self, vm_id: str) -> VMState:
        vm = self.vms.get(vm_id)
        if vm is None:
            return VMState(vm_id, Power.ABSENT, None, "fake")
        pid = hash(vm_id) % 100_000 + 1 if vm.power in (Power.RUNNING, Power.PAUSED) else None
        return VMState(vm_id, vm.power, pid, "fake")

    def _get(self, vm_id: str) -> _VM:
        vm = self.vms.get(vm_id)
        if vm is None:
            raise VMNotFound(vm_id)
        return vm

    async def spawn(self, spec: VMSpec) -> VMState:
        spec.validate()
        if spec.id in self.vms and self.vms[spec.id].power in (Power.RUNNING, Power.PAUSED):
            return self._state(spec.id)
        if self.fail_spawn is not None and self.fail_spawn(spec):
            raise SpawnFailed("injected spawn failure")
        if self.boot_delay:
            await asyncio.sleep(self.boot_delay)
        self.vms[spec.id] = _VM(spec, Power.RUNNING)
        return self._state(spec.id)

    async def state(self, vm_id: str) -> VMState:
        return self._state(vm_id)

    async def list_vms(self) -> list[VMState]:
        return [self._state(i) for i in self.vms]

    async def reboot(self, vm_id: str, hard: bool) -> None:
        vm = self._get(vm_id)
        if vm.power != Power.RUNNING:
            raise InvalidPowerState(f"{vm_id} is {vm.power}")
        vm.boots += 1

    async def power_off(self, vm_id: str, graceful_timeout: float = 10) -> None:
        self._get(vm_id).power = Power.SHUTDOWN

    async def power_on(self, spec: VMSpec) -> VMState:
        vm = self._get(spec.id)
        if vm.power in (Power.SHUTDOWN, Power.CRASHED):
            vm.power = Power.RUNNING
            vm.boots += 1
        return self._state(spec.id)

    async def pause(self, vm_id: str) -> None:
        vm = self._get(vm_id)
        if vm.power != Power.RUNNING:
            raise InvalidPowerState(f"{vm_id} is {vm.power}")
        vm.power = Power.PAUSED

    async def unpause(self, vm_id: str) -> None:
        vm = self._get(vm_id)
        if vm.power == Power.PAUSED:
            vm.power = Power.RUNNING

    def crash(self, vm_id: str) -> None:
        """Failure injection: the VM's process died uncleanly, as QEMU would after SIGKILL."""
        self._get(vm_id).power = Power.CRASHED

    async def nics(self, vm_id: str) -> list[NicSpec]:
        return list(self._get(vm_id).spec.nics)

    async def attach_nic(self, vm_id: str, nic: NicSpec) -> None:
        nic.validate()
        vm = self._get(vm_id)
        if all(n.port_id != nic.port_id for n in vm.spec.nics):
            vm.spec.nics.append(nic)

    async def detach_nic(self, vm_id: str, port_id: str) -> None:
        vm = self._get(vm_id)
        vm.spec.nics = [n for n in vm.spec.nics if n.port_id != port_id]

    async def destroy(self, vm_id: str) -> None:
        self.vms.pop(vm_id, None)

    async def snapshot(self, vm_id: str, dest: Path) -> None:
        vm = self._get(vm_id)
        dest.write_bytes(f"fake snapshot of {vm_id} after {vm.boots} boots\n".encode())

    def console_stamp(self, vm_id: str) -> tuple[int, int] | None:
        vm = self.vms.get(vm_id)
        return None if vm is None else (vm.boots, 0)

    async def console_output(self, vm_id: str, length: int | None = None) -> str:
        vm = self._get(vm_id)
        lines = ["fake firmware", "fake kernel booting"]
        for _ in range(vm.boots):
            lines.append(f"kumo-tiny booted {vm.spec.name} none")
        return "\n".join(lines[-length:] if length else lines) + "\n"

    async def cleanup_orphans(self, keep: set[str]) -> list[str]:
        gone = [i for i in self.vms if i not in keep]
        for i in gone:
            del self.vms[i]
        return gone

    async def close(self) -> None:
        return None
