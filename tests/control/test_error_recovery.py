"""A server in ERROR honours hard reboot and rebuild: its VM is recreated, it goes ACTIVE.

The real pieces run in process: the Nova face (ASGI), the scheduler on the store,
and the host agent's server reconciler with the fake compute driver, its API calls
going to the same app; the agent's watch is a store informer feeding its queue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kumo import store
from kumo.agent.compute import ServerReconciler
from kumo.client import ApiClient
from kumo.common.informer import Informer, key_of
from kumo.control.scheduler import Scheduler
from kumo.drivers.fake import FakeDriver
from kumo.model import compute as cm

from ..compute.conftest import Nova, Tenant

HOST = "node1"


class LocalImages:
    """The agent's image cache, minus the download: every image is one local file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.write_bytes(b"\0" * 512)

    async def ensure(self, image_id: str, checksum: str | None) -> Path:
        return self.path


@dataclass
class Plane:
    nova: Nova
    driver: FakeDriver
    agent: ServerReconciler
    scheduler: Scheduler

    async def wait_status(self, who: Tenant, sid: str, want: str, timeout: float = 10) -> Any:
        deadline = time.time() + timeout
        while True:
            s = (await self.nova.ok("GET", f"/v2.1/servers/{sid}", who))["server"]
            if s["status"] == want:
                return s
            assert time.time() < deadline, f"{sid} is {s['status']}, not {want}"
            await asyncio.sleep(0.05)

    async def force_error(self, who: Tenant, sid: str, *, unbind: bool = False) -> None:
        """What a failure leaves: ERROR with a fault, the claim released (and no host)."""
        def change(obj: dict[str, Any]) -> None:
            obj["status"].update({"vmState": "error", "taskState": None, "fault": {
                "code": 500, "message": "boom", "created": store.now_iso()}})
            if unbind:
                obj["spec"]["host"] = None
                obj["metadata"]["labels"].pop(cm.HOST_LABEL, None)
                obj["status"]["host"] = None

        server = await self.nova.objects.mutate(cm.SERVER, who.project_id, sid, change)
        await self.scheduler.release(HOST, server["metadata"]["uid"])
        if unbind:
            await self.driver.destroy(sid)
        await self.wait_status(who, sid, "ERROR")


@pytest.fixture
async def plane(nova: Nova, tmp_path: Path) -> AsyncIterator[Plane]:
    await nova.host(HOST)
    admin = await nova.admin()
    api = ApiClient({"auth_url": "http://kumo/v3"})
    await api.http.aclose()
    api.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=nova.client._transport.app),
                                 base_url="http://kumo")
    api._token, api._token_expires = admin.token, time.time() + 3600
    driver = FakeDriver()
    agent = ServerReconciler(api, driver, HOST, LocalImages(tmp_path / "disk.img"))  # type: ignore[arg-type]
    scheduler = Scheduler(nova.objects, sweep_interval=3600)

    def to_agent(typ: str, obj: dict[str, Any]) -> None:
        agent.controller.enqueue(key_of(obj))

    watch = Informer(store.StoreSource(nova.objects, cm.SERVER,
                                       label_selector=f"{cm.HOST_LABEL}={HOST}"),
                     on_event=to_agent)
    tasks = [asyncio.create_task(t) for t in (scheduler.run(), agent.controller.run(),
                                              watch.run())]
    yield Plane(nova, driver, agent, scheduler)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await api.close()


async def _act(nova: Nova, who: Tenant, sid: str, body: dict[str, Any]) -> None:
    r = await nova.call("POST", f"/v2.1/servers/{sid}/action", who, json=body)
    assert r.status_code == 202, r.text


async def _reasons_once(nova: Nova, who: Tenant, wanted: set[str],
                        timeout: float = 10.0) -> list[str]:
    """Event reasons once ``wanted`` are all recorded (or the timeout): the agent posts its
    step's Event after it has reported the server's status."""
    deadline = time.monotonic() + timeout
    while True:
        reasons = [e["reason"] for e in (await nova.objects.list("Event", who.project_id)
                                         ).items]
        if wanted <= set(reasons) or time.monotonic() > deadline:
            return reasons
        await asyncio.sleep(0.05)


def _allocated(allocation: dict[str, Any] | None, uid: str) -> bool:
    """Whether the host's HostAllocation holds the server's claim."""
    return uid in cm.host_allocations(allocation)


async def test_hard_reboot_of_error_server_recreates_vm(plane: Plane, alice: Tenant,
                                                        public_image: str) -> None:
    nova = plane.nova
    sid = await nova.boot(alice, public_image)
    await plane.wait_status(alice, sid, "ACTIVE")
    first = plane.driver.vms[sid]
    await plane.force_error(alice, sid)
    uid = (await nova.server_obj(alice.project_id, sid))["metadata"]["uid"]
    assert not _allocated(await nova.objects.try_get(cm.HOST_ALLOCATION, "", HOST), uid)

    await _act(nova, alice, sid, {"reboot": {"type": "HARD"}})
    s = await plane.wait_status(alice, sid, "ACTIVE")
    assert "fault" not in s and s["OS-EXT-STS:task_state"] is None
    assert plane.driver.vms[sid] is not first  # a new VM, not the old one reported again
    assert _allocated(await nova.objects.try_get(cm.HOST_ALLOCATION, "", HOST), uid)  # claimed again
    st = (await nova.server_obj(alice.project_id, sid))["status"]
    assert st["observedRebootNonce"] == 1 and "recover" not in st
    reasons = await _reasons_once(nova, alice, {"Recovering", "Rebooted"})
    assert "Recovering" in reasons and "Rebooted" in reasons
    # a soft reboot of an ERROR server is still refused, as Nova does
    await plane.force_error(alice, sid)
    r = await nova.call("POST", f"/v2.1/servers/{sid}/action", alice,
                        json={"reboot": {"type": "SOFT"}})
    assert r.status_code == 409


async def test_rebuild_of_unbound_error_server_schedules_and_builds(
        plane: Plane, alice: Tenant, public_image: str) -> None:
    nova = plane.nova
    sid = await nova.boot(alice, public_image)
    await plane.wait_status(alice, sid, "ACTIVE")
    await plane.force_error(alice, sid, unbind=True)  # e.g. NoValidHost after a reschedule
    assert sid not in plane.driver.vms

    await _act(nova, alice, sid, {"rebuild": {"imageRef": public_image}})
    s = await plane.wait_status(alice, sid, "ACTIVE")
    assert s["image"]["id"] == public_image and "fault" not in s
    assert plane.driver.vms[sid].power.value == "running"
    obj = await nova.server_obj(alice.project_id, sid)
    assert obj["spec"]["host"] == HOST and obj["status"]["observedRebuildNonce"] == 1
    assert _allocated(await nova.objects.try_get(cm.HOST_ALLOCATION, "", HOST), obj["metadata"]["uid"])


async def test_failed_recovery_ends_in_error_without_looping(
        plane: Plane, alice: Tenant, public_image: str) -> None:
    nova = plane.nova
    sid = await nova.boot(alice, public_image)
    await plane.wait_status(alice, sid, "ACTIVE")
    await plane.force_error(alice, sid, unbind=True)
    await nova.objects.mutate(cm.HOST, "", HOST, lambda h: h["spec"].update(enabled=False))
    await _act(nova, alice, sid, {"reboot": {"type": "HARD"}})
    deadline = time.time() + 10
    while "disabled" not in str(((await nova.server_obj(alice.project_id, sid))["status"]
                                 .get("fault") or {}).get("message")):
        assert time.time() < deadline
        await asyncio.sleep(0.05)
    decisions = plane.scheduler.no_valid_host
    await asyncio.sleep(0.5)
    assert plane.scheduler.no_valid_host == decisions  # answered once, not retried forever
    assert (await plane.wait_status(alice, sid, "ERROR"))["fault"]["message"].startswith(
        "No valid host")
