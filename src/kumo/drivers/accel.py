"""Decide whether QEMU may use KVM on this host, or must emulate with TCG.

An openable /dev/kvm is not enough: sandboxed hosts expose a paravirtual KVM
(`kvm_pvm`) whose CPU has no vmx/svm flags; it creates VMs happily, then the
guests hang while booting. So KVM is used only when all three signs agree.
"""

from __future__ import annotations

import os
from pathlib import Path

KVM = "kvm"
TCG = "tcg"


def detect_accelerator(
    dev: Path = Path("/dev/kvm"),
    cpuinfo: Path = Path("/proc/cpuinfo"),
    sys_module: Path = Path("/sys/module"),
) -> str:
    """Return "kvm" when hardware virtualisation really works here, else "tcg"."""
    if not _openable(dev):
        return TCG
    if not _has_virt_flags(cpuinfo):
        return TCG
    if (sys_module / "kvm_pvm").exists():
        return TCG
    return KVM


def _openable(dev: Path) -> bool:
    try:
        fd = os.open(dev, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def _has_virt_flags(cpuinfo: Path) -> bool:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return bool(flags & {"vmx", "svm"})
    return False
