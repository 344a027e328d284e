"""The QEMU command line for a VMSpec, as a pure function so it can be read and tested.

No shell ever sees it. Paths inside QEMU option strings have commas doubled
(QEMU's own escaping); the guest's name is never put on the command line.

The QMP socket is bound through the VM directory inherited as fd 3
(qemu_proc.DIR_FD): a unix socket path must fit in 108 bytes, the state
directory need not.
"""

from __future__ import annotations

from pathlib import Path

from kumo.drivers.accel import KVM
from kumo.drivers.compute import VMSpec
from kumo.drivers.qemu_proc import DIR_FD
from kumo.drivers.qemu_vmdir import VMDir


def build_argv(spec: VMSpec, vmdir: VMDir, accel: str, binary: str, has_disk: bool) -> list[str]:
    """Full argv for a detached, headless QEMU controlled over QMP."""
    argv = [
        binary,
        "-name", spec.id,
        "-uuid", spec.id,
        "-machine", "pc",
        *_accel_args(accel),
        "-m", str(spec.memory_mb),
        "-smp", str(spec.vcpus),
        "-no-user-config",
        "-nodefaults",
        "-display", "none",
        "-pidfile", str(vmdir.pidfile),
        "-chardev", f"socket,id=qmp,path=/proc/self/fd/{DIR_FD}/{vmdir.qmp.name},server=on,wait=off",
        "-mon", "chardev=qmp,mode=control",
        "-chardev", f"file,id=console,path={_esc(vmdir.console)},append=on",
        "-serial", "chardev:console",
        "-object", "rng-random,id=rng0,filename=/dev/urandom",
        "-device", "virtio-rng-pci,rng=rng0",
        "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
    ]
    if has_disk:
        argv += [
            "-drive", f"file={_esc(vmdir.disk)},format=qcow2,if=none,id=root,discard=unmap",
            "-device", "virtio-blk-pci,drive=root,bootindex=1",
        ]
    if spec.kernel_path is not None:
        argv += ["-kernel", str(spec.kernel_path), "-append", spec.kernel_cmdline]
        if spec.ramdisk_path is not None:
            argv += ["-initrd", str(spec.ramdisk_path)]
    argv += _nic_args(spec)
    return argv


def _accel_args(accel: str) -> list[str]:
    if accel == KVM:
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", "tcg"]


def _nic_args(spec: VMSpec) -> list[str]:
    if not spec.nics:
        return ["-nic", "none"]
    args: list[str] = []
    for nic in spec.nics:
        netdev, device = nic_ids(nic.port_id)
        args += [
            "-netdev", f"tap,id={netdev},ifname={nic.tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev={netdev},mac={nic.mac},id={device}",
        ]
    return args


def nic_ids(port_id: str) -> tuple[str, str]:
    """(netdev id, device id) of a port's NIC: stable, so a boot NIC can be unplugged."""
    return f"net-{port_id[:11]}", f"nic-{port_id[:11]}"


def _esc(path: Path) -> str:
    return str(path).replace(",", ",,")
