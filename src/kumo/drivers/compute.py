"""The compute driver contract: what a host agent may ask of a hypervisor.

One protocol, plain dataclasses in and out, and one error tree. The real
driver (`qemu.QemuDriver`) and the in-memory one (`fake.FakeDriver`) both
satisfy it and pass the same conformance suite (tests/drivers/).

Errors::

    DriverError                 anything a driver cannot do
     ├── InvalidSpec            the request itself is wrong (bad id, size, MAC, ...)
     ├── VMNotFound             no VM with that id on this host
     ├── InvalidPowerState      the VM exists but is in the wrong state for the call
     ├── SpawnFailed            the hypervisor did not come up (message has its log tail)
     ├── ControlFailed          the hypervisor did not answer a control command
     └── ImageError             the local image cache could not provide an image
          └── ChecksumMismatch  the downloaded bytes are not the image we were promised

State queries never raise for an unknown VM: they answer power "absent",
because "not here" is a normal observation for a level-triggered agent.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable


class Power(StrEnum):
    """Observed power state; compares equal to its plain string."""

    RUNNING = "running"
    PAUSED = "paused"
    SHUTDOWN = "shutdown"
    CRASHED = "crashed"
    ABSENT = "absent"


class DriverError(Exception):
    """Base of every error a compute driver raises."""


class InvalidSpec(DriverError):
    """The request is malformed; retrying will not help."""


class VMNotFound(DriverError):
    """No VM with this id exists on this host."""


class InvalidPowerState(DriverError):
    """The VM exists but cannot do this in its current power state."""


class SpawnFailed(DriverError):
    """The hypervisor process did not start or died while starting."""


class ControlFailed(DriverError):
    """The hypervisor did not carry out a control command in time."""


class ImageError(DriverError):
    """The image cache could not provide the image."""


class ChecksumMismatch(ImageError):
    """Downloaded image bytes do not match the expected checksum."""


_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_TAP = re.compile(r"^[A-Za-z0-9_-]{1,15}$")
IMAGE_FORMATS = ("qcow2", "raw")


def validate_id(value: str, what: str = "vm id", error: type[Exception] | None = None) -> str:
    """Return `value` if it is a canonical UUID string; ids name files, so be strict.

    Raises `error` (InvalidSpec by default) otherwise."""
    error = error or InvalidSpec
    try:
        canonical = str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError) as e:
        raise error(f"{what} {value!r} is not a UUID") from e
    if canonical != value:
        raise error(f"{what} {value!r} is not in canonical lower-case UUID form")
    return value


@dataclass
class NicSpec:
    """One virtual NIC; the caller names the tap (tap + port_id[:11])."""

    port_id: str
    mac: str
    tap: str

    def validate(self) -> None:
        validate_id(self.port_id, "port id")
        if not _MAC.match(self.mac):
            raise InvalidSpec(f"MAC {self.mac!r} is not lower-case aa:bb:cc:dd:ee:ff")
        if not _TAP.match(self.tap):
            raise InvalidSpec(f"tap name {self.tap!r} is not a valid interface name")


@dataclass
class VMSpec:
    """Everything a driver needs to start a VM; `name` is never used for files."""

    id: str
    name: str
    vcpus: int
    memory_mb: int
    root_gb: int
    image_path: Path | None
    image_format: str = "qcow2"
    kernel_path: Path | None = None
    ramdisk_path: Path | None = None
    kernel_cmdline: str = "console=ttyS0"
    nics: list[NicSpec] = field(default_factory=list)

    def validate(self) -> None:
        """Raise InvalidSpec before anything touches the host."""
        validate_id(self.id)
        if self.vcpus < 1 or self.memory_mb < 16 or self.root_gb < 0:
            raise InvalidSpec(f"bad size: {self.vcpus} vCPU, {self.memory_mb} MB, {self.root_gb} GB")
        if self.image_format not in IMAGE_FORMATS:
            raise InvalidSpec(f"image format {self.image_format!r} not in {IMAGE_FORMATS}")
        if self.image_path is None and self.kernel_path is None:
            raise InvalidSpec("need an image_path or a kernel_path to boot from")
        if self.ramdisk_path is not None and self.kernel_path is None:
            raise InvalidSpec("a ramdisk needs a kernel")
        for nic in self.nics:
            nic.validate()

    def to_dict(self) -> dict:
        """JSON-ready form, so a driver can keep the spec next to the disk."""
        return {
            "id": self.id,
            "name": self.name,
            "vcpus": self.vcpus,
            "memory_mb": self.memory_mb,
            "root_gb": self.root_gb,
            "image_path": _str_or_none(self.image_path),
            "image_format": self.image_format,
            "kernel_path": _str_or_none(self.kernel_path),
            "ramdisk_path": _str_or_none(self.ramdisk_path),
            "kernel_cmdline": self.kernel_cmdline,
            "nics": [{"port_id": n.port_id, "mac": n.mac, "tap": n.tap} for n in self.nics],
        }

    @classmethod
    def from_dict(cls, data: dict) -> VMSpec:
        paths = {k: _path_or_none(data.get(k)) for k in ("image_path", "kernel_path", "ramdisk_path")}
        plain = {k: data[k] for k in ("id", "name", "vcpus", "memory_mb", "root_gb")}
        return cls(
            **plain,
            **paths,
            image_format=data.get("image_format", "qcow2"),
            kernel_cmdline=data.get("kernel_cmdline", "console=ttyS0"),
            nics=[NicSpec(**n) for n in data.get("nics", [])],
        )


@dataclass
class VMState:
    """What the driver observes about one VM right now."""

    id: str
    power: str
    pid: int | None
    accelerator: str


@dataclass
class HostInfo:
    """Capacity and kind of this hypervisor, reported to the scheduler."""

    vcpus: int
    memory_mb: int
    disk_gb: int
    accelerator: str
    hypervisor_type: str
    cpu_arch: str


@runtime_checkable
class ComputeDriver(Protocol):
    """What a host agent may ask; every call is idempotent where that makes sense."""

    async def host_info(self) -> HostInfo: ...

    async def spawn(self, spec: VMSpec) -> VMState:
        """Create and start; if already running, just return its state."""
        ...

    async def state(self, vm_id: str) -> VMState:
        """Observed state; power "absent" when unknown."""
        ...

    async def list_vms(self) -> list[VMState]:
        """Every VM this host has (running or not), for adoption after a restart."""
        ...

    async def reboot(self, vm_id: str, hard: bool) -> None: ...

    async def power_off(self, vm_id: str, graceful_timeout: float = 10) -> None:
        """Stop the VM (ACPI first, then force); the disk is kept."""
        ...

    async def power_on(self, spec: VMSpec) -> VMState:
        """Start a stopped VM again from its existing disk."""
        ...

    async def pause(self, vm_id: str) -> None: ...

    async def unpause(self, vm_id: str) -> None: ...

    async def destroy(self, vm_id: str) -> None:
        """Stop the VM and remove all of its files; a no-op when absent."""
        ...

    async def snapshot(self, vm_id: str, dest: Path) -> None:
        """Write the VM's root disk, flattened, as a standalone qcow2 file at dest.

        A running VM is paused for the copy (consistent disk) and resumed after."""
        ...

    async def nics(self, vm_id: str) -> list[NicSpec]:
        """The NICs the VM has now (boot NICs plus hot-plugged ones)."""
        ...

    async def attach_nic(self, vm_id: str, nic: NicSpec) -> None:
        """Hot-plug a NIC on a running VM (idempotent); kept across power cycles."""
        ...

    async def detach_nic(self, vm_id: str, port_id: str) -> None:
        """Hot-unplug a NIC (idempotent)."""
        ...

    async def console_output(self, vm_id: str, length: int | None = None) -> str:
        """The last `length` lines of the serial console (all when None)."""
        ...

    async def close(self) -> None:
        """Release connections; VMs keep running."""
        ...


def _str_or_none(p: Path | None) -> str | None:
    return None if p is None else str(p)


def _path_or_none(s: str | None) -> Path | None:
    return None if s is None else Path(s)
