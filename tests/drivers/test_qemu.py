"""QEMU-only behaviour: command line, crash detection, reaping, start failures, timing."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from kumo.drivers.compute import NicSpec, Power, SpawnFailed, VMSpec
from kumo.drivers.qemu_argv import build_argv
from kumo.drivers.qemu_vmdir import VMDir

from .test_conformance import MARKER, qemu_ok, spec_for, wait_console

needs_qemu = pytest.mark.skipif(qemu_ok() is not None, reason=qemu_ok() or "")


def _driver(state: Path):
    from kumo.drivers.qemu import QemuDriver

    return QemuDriver(state)


def test_argv_is_a_plain_list_without_user_text(tmp_path: Path) -> None:
    vid = str(uuid.uuid4())
    port = str(uuid.uuid4())
    spec = VMSpec(vid, "evil,name;rm -rf /", 2, 256, 1, Path("/img"),
                  nics=[NicSpec(port, "fa:16:3e:00:00:01", "tap" + port[:11])])
    state = tmp_path / "a,b"
    argv = build_argv(spec, VMDir(state, vid), "tcg", "qemu-system-x86_64", has_disk=True)
    assert all(isinstance(a, str) for a in argv)
    assert not any("evil" in a for a in argv)  # the display name never reaches QEMU
    assert argv[argv.index("-uuid") + 1] == vid
    assert argv[argv.index("-accel") + 1] == "tcg"
    assert f"file={state}".replace(",", ",,") in " ".join(argv)  # commas escaped
    assert f"tap,id=net-{port[:11]},ifname=tap{port[:11]},script=no,downscript=no" in argv
    assert f"virtio-net-pci,netdev=net-{port[:11]},mac=fa:16:3e:00:00:01,id=nic-{port[:11]}" \
        in argv
    assert "-nic" not in argv


def test_argv_kvm_and_no_nics(tmp_path: Path) -> None:
    vid = str(uuid.uuid4())
    spec = VMSpec(vid, "x", 1, 128, 0, None, kernel_path=Path("/k"))
    argv = build_argv(spec, VMDir(tmp_path, vid), "kvm", "qemu-system-x86_64", has_disk=False)
    assert argv[argv.index("-accel") + 1] == "kvm" and "host" in argv
    assert argv[argv.index("-nic") + 1] == "none"
    assert "-drive" not in argv


@needs_qemu
async def test_long_state_dir(tmp_path: Path) -> None:
    """Unix socket paths stop at 108 bytes; state dirs (data dir + host name) may not."""
    state = tmp_path / ("d" * 120)
    driver = _driver(state)
    spec = spec_for("qemu")
    try:
        await driver.spawn(spec)
        await driver.pause(spec.id)  # QMP works through the directory fd
        assert (await driver.state(spec.id)).power == Power.PAUSED
        assert (state / spec.id / "qmp.sock").exists()
    finally:
        await driver.destroy(spec.id)
        await driver.close()


@needs_qemu
async def test_crash_is_seen_reaped_and_recoverable(tmp_path: Path) -> None:
    driver = _driver(tmp_path)
    spec = spec_for("qemu")
    try:
        pid = (await driver.spawn(spec)).pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):  # the pidfd watch reaps without anyone polling state()
            if not Path(f"/proc/{pid}").exists():
                break
            await asyncio.sleep(0.05)
        assert not Path(f"/proc/{pid}").exists(), "killed QEMU left a zombie"
        assert (await driver.state(spec.id)).power == Power.CRASHED
        st = await driver.power_on(spec)
        assert st.power == Power.RUNNING and st.pid != pid
    finally:
        await driver.destroy(spec.id)
        await driver.close()


@needs_qemu
async def test_spawn_failure_reports_qemu_log(tmp_path: Path) -> None:
    driver = _driver(tmp_path)
    good = spec_for("qemu")
    bad = VMSpec(good.id, "x", 1, 128, 0, None, kernel_path=tmp_path / "no-such-kernel")
    try:
        with pytest.raises(SpawnFailed, match="kernel"):
            await driver.spawn(bad)
        st = await driver.state(bad.id)
        assert st.pid is None and st.power != Power.RUNNING
    finally:
        await driver.destroy(bad.id)
        await driver.close()
    assert not (tmp_path / bad.id).exists()


@needs_qemu
async def test_graceful_power_off_and_soft_reboot(tmp_path: Path) -> None:
    """kumo-tiny runs acpid, so ACPI power-off finishes well before the timeout."""
    driver = _driver(tmp_path)
    spec = spec_for("qemu")
    try:
        await driver.spawn(spec)
        await wait_console(driver, spec.id)
        await driver.reboot(spec.id, hard=False)
        await wait_console(driver, spec.id, 2)
        t0 = time.perf_counter()
        await driver.power_off(spec.id, graceful_timeout=30)
        assert time.perf_counter() - t0 < 25
        assert (await driver.state(spec.id)).power == Power.SHUTDOWN
        assert not (tmp_path / spec.id / "qemu.pid").exists()
    finally:
        await driver.destroy(spec.id)
        await driver.close()


@needs_qemu
async def test_start_latency(tmp_path: Path, record_property) -> None:
    """Measured, with generous bounds: QMP answers in well under a second."""
    driver = _driver(tmp_path)
    spec = spec_for("qemu")
    try:
        t0 = time.perf_counter()
        await driver.spawn(spec)
        ready = time.perf_counter() - t0
        text = await wait_console(driver, spec.id, timeout=60)
        booted = time.perf_counter() - t0
        assert MARKER in text
        record_property("qmp_ready_s", round(ready, 3))
        record_property("boot_marker_s", round(booted, 2))
        print(f"\n{driver.accel}: spawn->QMP ready {ready:.3f} s, spawn->marker {booted:.2f} s")
        assert ready < 5
    finally:
        await driver.destroy(spec.id)
        await driver.close()


@needs_qemu
async def test_power_off_paused_vm_skips_acpi_wait(tmp_path: Path) -> None:
    """A paused guest cannot answer the ACPI button, so power_off must not wait for it."""
    driver = _driver(tmp_path)
    spec = spec_for("qemu")
    try:
        await driver.spawn(spec)
        await driver.pause(spec.id)
        t0 = time.perf_counter()
        await driver.power_off(spec.id, graceful_timeout=30)
        assert time.perf_counter() - t0 < 10
        assert (await driver.state(spec.id)).power == Power.SHUTDOWN
    finally:
        await driver.destroy(spec.id)
        await driver.close()
