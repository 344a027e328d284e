"""kill -9 durability of a real ``kumo api``: 10 concurrent writers, 5 rounds of kill -9
and restart. Every acknowledged write (a port create answered 201) is present after the
restart, and once the allocation collector has run no address or MAC claim is left
without the port holding it (a kill between claim and port write leaves such claims).
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Callable
from pathlib import Path

import httpx

from kumo import store
from kumo.control.allocations import AllocationCollector
from kumo.model import network as nm
from tests.apiprocess import ApiProcess

WRITERS = 10
ROUNDS = 5


async def _setup(api: ApiProcess) -> str:
    """A network with a /20 subnet and unlimited ports in the admin project; its id."""
    async with httpx.AsyncClient(base_url=api.url + "/network/v2.0", timeout=30,
                                 headers={"X-Auth-Token": api.token()}) as c:
        project = (await c.get(api.url + "/v3/projects", params={"name": "admin"})
                   ).json()["projects"][0]["id"]
        r = await c.put(f"/quotas/{project}", json={"quota": {"port": -1}})
        assert r.status_code == 200, r.text
        net = (await c.post("/networks", json={"network": {"name": "k9"}})).json()["network"]
        r = await c.post("/subnets", json={"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": "10.9.0.0/20"}})
        assert r.status_code == 201, r.text
        return net["id"]


async def _round(api: ApiProcess, network: str, acked: set[str]) -> int:
    """Writers create ports until the server is killed under them; acks this round."""
    token = api.token()
    mine: set[str] = set()

    async def writer(c: httpx.AsyncClient) -> None:
        while True:
            try:
                r = await c.post("/ports", json={"port": {"network_id": network}})
            except httpx.TransportError:
                return  # the server is gone
            assert r.status_code == 201, r.text
            mine.add(r.json()["port"]["id"])

    limits = httpx.Limits(max_connections=WRITERS)
    async with httpx.AsyncClient(base_url=api.url + "/network/v2.0", limits=limits,
                                 headers={"X-Auth-Token": token}, timeout=30) as c:
        tasks = [asyncio.create_task(writer(c)) for _ in range(WRITERS)]
        while len(mine) < 20:
            await asyncio.sleep(0.05)
        await asyncio.sleep(random.uniform(0.2, 1.0))
        await asyncio.to_thread(api.kill, signal.SIGKILL)  # mid-stream: writes in flight
        await asyncio.gather(*tasks)
    acked |= mine
    return len(mine)


async def _present(api: ApiProcess) -> set[str]:
    async with httpx.AsyncClient(timeout=60, headers={"X-Auth-Token": api.token()}) as c:
        r = await c.get(api.url + "/network/v2.0/ports", params={"fields": "id"})
        assert r.status_code == 200, r.text
        return {p["id"] for p in r.json()["ports"]}


async def _orphans(data: Path, collect: bool) -> list[str]:
    """Claims whose port does not hold them (after one collector sweep if ``collect``)."""
    objects = await store.open_sqlite(str(data / "store.db"))
    try:
        if collect:
            await AllocationCollector(objects, grace=0).collect()  # the server is stopped
        out = []
        for kind in (nm.IP_ALLOCATION, nm.MAC_ALLOCATION):
            for a in (await objects.list(kind, None)).items:
                spec = a["spec"]
                port = await objects.try_get(nm.PORT, spec.get("project") or "",
                                             spec.get("portId") or "")
                want = spec.get("ipAddress") or str(spec.get("macAddress")).lower()
                held = port is not None and (
                    str(port["spec"].get("macAddress", "")).lower() == want
                    or any(f.get("ipAddress") == want for f in port["spec"]["fixedIps"]))
                if not held:
                    out.append(a["metadata"]["name"])
        return out
    finally:
        await objects.backend.close()


def test_kill9_loses_no_acknowledged_write_and_leaves_no_orphan(
        api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory()
    network = asyncio.run(_setup(api))
    acked: set[str] = set()
    per_round = []
    for _ in range(ROUNDS):
        per_round.append(asyncio.run(_round(api, network, acked)))
        api.start()
        missing = acked - asyncio.run(_present(api))
        assert not missing, f"{len(missing)} acknowledged ports lost: {sorted(missing)[:5]}"
    assert all(n >= 20 for n in per_round), per_round
    api.kill()
    leftovers = asyncio.run(_orphans(api.data_dir, collect=False))
    assert not asyncio.run(_orphans(api.data_dir, collect=True)), "orphans survived"
    print(f"acked per round {per_round}; claims orphaned by the kills: {len(leftovers)}")
