"""Snapshots: the VM's disk as one standalone qcow2 that boots a new VM (both drivers)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from pathlib import Path

import pytest

from kumo.drivers.compute import Power, VMNotFound, VMSpec

from .test_conformance import make, qemu_ok, spec_for, wait_console


@pytest.fixture(params=["fake", "qemu"])
def kind(request) -> str:
    if request.param == "qemu" and (why := qemu_ok()):
        pytest.skip(why)
    return request.param


async def test_snapshot_of_unknown_vm(kind: str, tmp_path: Path) -> None:
    driver = make(kind, tmp_path / "state")
    with pytest.raises(VMNotFound):
        await driver.snapshot(str(uuid.uuid4()), tmp_path / "snap.qcow2")
    await driver.close()


async def test_snapshot_keeps_vm_running(kind: str, tmp_path: Path) -> None:
    driver = make(kind, tmp_path / "state")
    spec = spec_for(kind)
    dest = tmp_path / "snap.qcow2"
    try:
        await driver.spawn(spec)
        if kind == "qemu":
            await wait_console(driver, spec.id)
        await driver.snapshot(spec.id, dest)
        assert dest.stat().st_size > 0
        assert (await driver.state(spec.id)).power == Power.RUNNING
        await driver.pause(spec.id)  # a paused VM stays paused across a snapshot
        await driver.snapshot(spec.id, dest)
        assert (await driver.state(spec.id)).power == Power.PAUSED
    finally:
        await driver.destroy(spec.id)
        await driver.close()


async def test_qemu_snapshot_is_flat_and_boots(tmp_path: Path) -> None:
    """The snapshot has no backing file, holds the disk's bytes, and boots from disk alone."""
    if why := qemu_ok():
        pytest.skip(why)
    driver = make("qemu", tmp_path / "state")
    spec = spec_for("qemu")
    dest = tmp_path / "snap.qcow2"
    second = VMSpec(str(uuid.uuid4()), "from-snapshot", 1, 128, 0, dest, "qcow2")
    try:
        await driver.spawn(spec)
        await wait_console(driver, spec.id)
        await driver.snapshot(spec.id, dest)
        info = json.loads((await asyncio.to_thread(
            subprocess.run, ["qemu-img", "info", "--output=json", str(dest)], check=True,
            capture_output=True, text=True)).stdout)
        assert info["format"] == "qcow2" and "backing-filename" not in info
        same = await asyncio.to_thread(subprocess.run, [
            "qemu-img", "compare", "-U", str(spec.image_path), str(dest)], capture_output=True)
        assert same.returncode == 0, same.stdout
        await driver.destroy(spec.id)  # the snapshot does not need the VM it came from
        await driver.spawn(second)     # no kernel: SeaBIOS → syslinux on the snapshot's disk
        await wait_console(driver, second.id, timeout=150)
    finally:
        await driver.destroy(spec.id)
        await driver.destroy(second.id)
        await driver.close()
