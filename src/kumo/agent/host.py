"""Host registration and heartbeat: the agent's Host status, its Lease and the
writes of its AgentReport (the network agent's sync report, the compute inventory)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import httpx

from kumo.client import ApiClient
from kumo.common import clock, errors
from kumo.drivers.compute import HostInfo
from kumo.model import compute as cm
from kumo.model import ops

log = logging.getLogger("kumo.agent.host")
RENEW_INTERVAL = 10.0


async def register(api: ApiClient, name: str, info: HostInfo, *, vtep_ip: str | None,
                   version: str) -> dict[str, Any]:
    """Create the Host if new (admin fields default), then report what this host has."""
    host = await api.get("hosts", name)
    if host is None:
        try:
            await api.create("hosts", {"kind": cm.HOST, "metadata": {"name": name}, "spec": {
                "enabled": True, "availabilityZone": "nova",
                "allocationRatios": {"cpu": 16.0, "ram": 1.5, "disk": 1.0}}})
        except errors.AlreadyExists:
            pass
    return await api.patch("hosts", name, {"status": {
        "capacity": {"vcpus": info.vcpus, "memoryMb": info.memory_mb, "diskGb": info.disk_gb},
        "accelerator": info.accelerator, "hypervisorType": info.hypervisor_type,
        "cpuArch": info.cpu_arch, "vtepIp": vtep_ip, "agentVersion": version,
        "startedAt": clock.now_iso()}}, status=True)


async def register_until_done(api: ApiClient, name: str, info: HostInfo, *,
                              vtep_ip: str | None, version: str) -> dict[str, Any]:
    """``register``, retried with a jittered, growing pause while the API is unreachable
    or overloaded (a thousand agents starting together must not die on a dropped
    connection, nor all retry in the same second)."""
    pause = 0.5
    while True:
        try:
            return await register(api, name, info, vtep_ip=vtep_ip, version=version)
        except (errors.StoreError, OSError, httpx.TransportError) as exc:
            log.warning("registering host %s failed (%s: %s); retrying", name,
                        type(exc).__name__, exc)
        await asyncio.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, 30.0)


async def renew_forever(api: ApiClient, name: str, holder: str,
                        interval: float = RENEW_INTERVAL) -> None:
    """Renew the heartbeat lease; the scheduler skips hosts whose lease ran out.

    A failed renewal (a connection an overloaded API dropped) is retried within about
    a second, not a whole interval later: two misses in a row would let it lapse."""
    while True:
        spec = {"holderIdentity": holder, "renewTime": time.time(),
                "leaseDurationSeconds": cm.LEASE_SECONDS}
        try:
            try:
                await api.patch("leases", name, {"spec": spec})
            except errors.NotFound:
                await api.create("leases", {"kind": cm.LEASE, "metadata": {"name": name},
                                            "spec": spec})
        except (errors.StoreError, OSError, httpx.TransportError) as exc:
            log.warning("lease renewal failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(random.uniform(0.5, 1.5))
            continue
        await asyncio.sleep(interval)


async def write_report(api: ApiClient, name: str, status: dict[str, Any], what: str) -> bool:
    """Merge ``status`` into this host's AgentReport (created on first use); False when
    it could not be written: a dropped connection must not end the host's reports, the
    caller's next round retries."""
    try:
        try:
            await api.patch("agentreports", name, {"status": status}, status=True)
        except errors.NotFound:
            try:
                await api.create("agentreports", {
                    "kind": ops.AGENT_REPORT, "metadata": {"name": name}})
            except errors.AlreadyExists:
                pass  # the other writer of this host's report made it first
            await api.patch("agentreports", name, {"status": status}, status=True)
    except (errors.StoreError, OSError, httpx.HTTPError) as exc:
        log.warning("%s not written: %s", what, exc)
        return False
    return True
