"""One suite for every compute driver: the fake and QEMU must behave alike."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import pytest

from kumo.drivers.compute import (
    ChecksumMismatch,
    InvalidPowerState,
    InvalidSpec,
    Power,
    VMNotFound,
    VMSpec,
)
from kumo.drivers.fake import FakeDriver
from kumo.drivers.imagecache import ImageCache

MARKER = "kumo-tiny booted"


def qemu_ok() -> str | None:
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 is not installed"
    if os.geteuid() != 0:
        return "needs root"
    return None


@pytest.fixture(params=["fake", "qemu"])
def kind(request) -> str:
    if request.param == "qemu" and (why := qemu_ok()):
        pytest.skip(why)
    return request.param


def make(kind: str, state: Path):
    if kind == "fake":
        return FakeDriver()
    from kumo.drivers.qemu import QemuDriver

    return QemuDriver(state)


def spec_for(kind: str) -> VMSpec:
    vid = str(uuid.uuid4())
    if kind == "fake":
        return VMSpec(vid, "vm", 1, 128, 0, Path("/nonexistent"))
    from kumo.imagebuild import kumo_tiny

    tiny = kumo_tiny.ensure_built()
    return VMSpec(vid, "vm", 1, 128, 0, tiny.qcow2, "qcow2", kernel_path=tiny.kernel,
                  ramdisk_path=tiny.ramdisk, kernel_cmdline="console=ttyS0 quiet")


async def wait_console(driver, vid: str, count: int = 1, timeout: float = 90) -> str:
    async def probe() -> str:
        while True:
            text = await driver.console_output(vid)
            if text.count(MARKER) >= count:
                return text
            await asyncio.sleep(0.2)

    return await asyncio.wait_for(probe(), timeout)


async def test_lifecycle(kind: str, tmp_path: Path) -> None:
    driver = make(kind, tmp_path)
    spec = spec_for(kind)
    try:
        st = await driver.spawn(spec)
        assert st.power == Power.RUNNING and st.pid
        assert (await driver.spawn(spec)).pid == st.pid  # idempotent
        await wait_console(driver, spec.id)
        await driver.pause(spec.id)
        assert (await driver.state(spec.id)).power == Power.PAUSED
        await driver.unpause(spec.id)
        assert (await driver.state(spec.id)).power == Power.RUNNING
        await driver.reboot(spec.id, hard=True)
        await wait_console(driver, spec.id, 2)
        await driver.power_off(spec.id, graceful_timeout=10)
        assert (await driver.state(spec.id)).power == Power.SHUTDOWN
        st2 = await driver.power_on(spec)
        assert st2.power == Power.RUNNING
        await driver.destroy(spec.id)
        assert (await driver.state(spec.id)).power == Power.ABSENT
        if kind == "qemu":
            assert not (tmp_path / spec.id).exists()
        await driver.destroy(spec.id)  # idempotent
    finally:
        await driver.destroy(spec.id)
        await driver.close()


async def test_qemu_adoption_and_orphans(tmp_path: Path) -> None:
    """QEMU only: the fake driver keeps VMs in memory, so there is nothing to adopt."""
    if why := qemu_ok():
        pytest.skip(why)
    kind = "qemu"
    a = make(kind, tmp_path)
    keep, orphan = spec_for(kind), spec_for(kind)
    try:
        pid = (await a.spawn(keep)).pid
        await a.spawn(orphan)
        await a.close()  # the agent goes away; VMs must not
        b = make(kind, tmp_path)
        states = {s.id: s for s in await b.list_vms()}
        assert states[keep.id].pid == pid and states[keep.id].power == Power.RUNNING
        assert await b.cleanup_orphans({keep.id}) == [orphan.id]
        await b.pause(keep.id)  # adopted: controllable over QMP
        assert (await b.state(keep.id)).power == Power.PAUSED
        await b.destroy(keep.id)
        await b.close()
    finally:
        for s in (keep, orphan):
            await a.destroy(s.id)


async def test_invalid_spec_rejected(kind: str, tmp_path: Path) -> None:
    driver = make(kind, tmp_path)
    with pytest.raises(InvalidSpec):
        await driver.spawn(VMSpec("../etc", "x", 1, 128, 0, Path("/x")))
    with pytest.raises(InvalidSpec):
        await driver.spawn(VMSpec(str(uuid.uuid4()), "x", 0, 128, 0, Path("/x")))


async def test_image_cache_verifies_and_shares(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path)
    iid = str(uuid.uuid4())
    calls = 0

    async def fetch(dest: Path) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        dest.write_bytes(b"image-bytes")

    import hashlib

    md5 = hashlib.md5(b"image-bytes", usedforsecurity=False).hexdigest()
    paths = await asyncio.gather(*(cache.ensure(iid, md5, fetch) for _ in range(5)))
    assert calls == 1 and len(set(paths)) == 1 and paths[0].read_bytes() == b"image-bytes"
    other = str(uuid.uuid4())
    with pytest.raises(ChecksumMismatch):
        await cache.ensure(other, "0" * 32, fetch)
    assert not any(p.name.startswith(other) for p in tmp_path.iterdir())


async def test_unknown_vm(kind: str, tmp_path: Path) -> None:
    driver = make(kind, tmp_path)
    vid = str(uuid.uuid4())
    try:
        assert (await driver.state(vid)).power == Power.ABSENT
        assert await driver.list_vms() == []
        await driver.destroy(vid)  # a no-op, not an error
        for call in (driver.pause(vid), driver.power_off(vid), driver.console_output(vid)):
            with pytest.raises(VMNotFound):
                await call
    finally:
        await driver.close()


async def test_wrong_power_state_and_orphans(kind: str, tmp_path: Path) -> None:
    driver = make(kind, tmp_path)
    keep, orphan = spec_for(kind), spec_for(kind)
    try:
        await driver.spawn(keep)
        await driver.spawn(orphan)
        await driver.power_off(orphan.id, graceful_timeout=0)
        assert (await driver.state(orphan.id)).power == Power.SHUTDOWN
        with pytest.raises(InvalidPowerState):
            await driver.pause(orphan.id)
        assert {s.id for s in await driver.list_vms()} == {keep.id, orphan.id}
        assert await driver.cleanup_orphans({keep.id}) == [orphan.id]
        assert (await driver.state(orphan.id)).power == Power.ABSENT
        assert (await driver.state(keep.id)).power == Power.RUNNING
    finally:
        for s in (keep, orphan):
            await driver.destroy(s.id)
        await driver.close()


async def test_console_tail(kind: str, tmp_path: Path) -> None:
    driver = make(kind, tmp_path)
    spec = spec_for(kind)
    try:
        await driver.spawn(spec)
        await wait_console(driver, spec.id)
        last = await driver.console_output(spec.id, length=2)
        assert 1 <= len(last.splitlines()) <= 2
        assert last.strip() in await driver.console_output(spec.id)  # output may still grow
    finally:
        await driver.destroy(spec.id)
        await driver.close()
