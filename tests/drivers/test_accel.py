"""Accelerator detection: KVM only when /dev/kvm, vmx/svm and a real (non-pvm) KVM agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from kumo.drivers.accel import detect_accelerator


@pytest.fixture
def host(tmp_path: Path) -> dict[str, Path]:
    dev = tmp_path / "kvm"
    dev.write_bytes(b"")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 vmx lm\n")
    mods = tmp_path / "module"
    (mods / "kvm").mkdir(parents=True)
    return {"dev": dev, "cpuinfo": cpuinfo, "sys_module": mods}


def test_real_kvm(host: dict[str, Path]) -> None:
    assert detect_accelerator(**host) == "kvm"


def test_no_device(host: dict[str, Path]) -> None:
    host["dev"].unlink()
    assert detect_accelerator(**host) == "tcg"


def test_no_virt_flags(host: dict[str, Path]) -> None:
    host["cpuinfo"].write_text("flags\t\t: fpu sse2 lm hypervisor\n")
    assert detect_accelerator(**host) == "tcg"


def test_paravirtual_kvm_sandbox(host: dict[str, Path]) -> None:
    (host["sys_module"] / "kvm_pvm").mkdir()
    assert detect_accelerator(**host) == "tcg"


def test_this_host_is_consistent() -> None:
    pvm = Path("/sys/module/kvm_pvm").exists()
    assert not (pvm and detect_accelerator() == "kvm")
