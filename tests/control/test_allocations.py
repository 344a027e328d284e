"""The allocation collector: address/MAC claims without a port are freed after a grace
period, claims of live ports stay, and a crash between claim and port write (kill -9)
leaves nothing held once the collector has run after the restart."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from kumo import store
from kumo.control.allocations import AllocationCollector
from kumo.core import ipam
from kumo.core import ports as core_ports
from kumo.core.actor import Actor
from kumo.core.errors import AlreadyExists
from kumo.model import network as nm

PROJECT = "p1"
NET = "11111111-1111-1111-1111-111111111111"
SUBNET = "22222222-2222-2222-2222-222222222222"


async def _network(objects: store.ObjectStore) -> dict:
    await objects.create({"kind": nm.NETWORK, "metadata": {"name": NET, "namespace": PROJECT},
                          "spec": {"name": "n", "segmentationId": 7}})
    return await objects.create({
        "kind": nm.SUBNET, "metadata": {"name": SUBNET, "namespace": PROJECT,
                                        "labels": {nm.NETWORK_LABEL: NET}},
        "spec": {"networkId": NET, "ipVersion": 4, "cidr": "10.0.0.0/29",
                 "gatewayIp": "10.0.0.1",
                 "allocationPools": [{"start": "10.0.0.2", "end": "10.0.0.6"}]}})


async def _held(objects: store.ObjectStore, kind: str) -> set[str]:
    return {a["metadata"]["name"] for a in (await objects.list(kind, None)).items}


async def test_orphans_go_live_ports_keep_theirs(tmp_path: Path) -> None:
    objects = await store.open_sqlite(str(tmp_path / "s.db"))
    try:
        sub = await _network(objects)
        live = await core_ports.create_system_port(objects, PROJECT, NET, device_owner="x",
                                                   device_id="d", subnet_ids=[SUBNET])
        orphan_ip = await ipam.allocate_ip(objects, sub, "no-such-port", PROJECT)
        await ipam.claim_mac(objects, NET, "fa:16:3e:00:00:09", "no-such-port", PROJECT)
        # an address the live port let go of but whose record stayed (crash mid-update)
        await ipam.claim_ip(objects, sub, "10.0.0.6", live["metadata"]["name"], PROJECT)
        assert len(await _held(objects, nm.IP_ALLOCATION)) == 3
        young = AllocationCollector(objects, grace=3600)
        assert await young.collect() == 0  # within the grace: maybe a create in flight
        assert len(await _held(objects, nm.IP_ALLOCATION)) == 3
        collector = AllocationCollector(objects, grace=0)
        assert await collector.collect() == 3
        live_ip = live["spec"]["fixedIps"][0]["ipAddress"]
        assert await _held(objects, nm.IP_ALLOCATION) == {
            nm.ip_allocation_name(SUBNET, live_ip)}
        assert await _held(objects, nm.MAC_ALLOCATION) == {
            nm.mac_allocation_name(NET, live["spec"]["macAddress"])}
        assert orphan_ip != live_ip
        again = await ipam.claim_ip(objects, sub, orphan_ip, "new-port", PROJECT)
        assert again == orphan_ip  # allocatable again
        assert await collector.collect() == 1  # (and that one has no port either)
        assert collector.collected == 4
    finally:
        await objects.backend.close()


CHILD = textwrap.dedent("""
    import asyncio, os, signal, sys
    from kumo import store
    from kumo.core import ports
    from kumo.core.actor import Actor
    from kumo.model import network as nm

    async def main(path, net, subnet, project):
        objects = await store.open_sqlite(path)
        create = objects.create

        async def create_then_die(obj, *a, **k):
            if obj.get("kind") == nm.PORT:  # the claims are made: die before the port
                os.kill(os.getpid(), signal.SIGKILL)
            return await create(obj, *a, **k)

        objects.create = create_then_die
        await ports.create_port(objects, Actor.kumo(project), ports.PortRequest(
            network_id=net, project=project,
            fixed_ips=[ports.FixedIp(subnet, "10.0.0.5")]))

    asyncio.run(main(*sys.argv[1:]))
""")


async def test_crash_mid_port_create_leaves_no_orphan(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    objects = await store.open_sqlite(path)
    await _network(objects)
    await objects.backend.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", CHILD, path, NET, SUBNET, PROJECT], env=env,
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    objects = await store.open_sqlite(path)  # the restart
    try:
        assert (await objects.list(nm.PORT, None)).items == []
        assert await _held(objects, nm.IP_ALLOCATION) == {
            nm.ip_allocation_name(SUBNET, "10.0.0.5")}
        assert len(await _held(objects, nm.MAC_ALLOCATION)) == 1
        req = core_ports.PortRequest(network_id=NET, project=PROJECT,
                                     fixed_ips=[core_ports.FixedIp(SUBNET, "10.0.0.5")])
        try:
            await core_ports.create_port(objects, Actor.kumo(PROJECT), req)
            raise AssertionError("the orphan should still hold 10.0.0.5")
        except AlreadyExists as exc:
            assert exc.code == "IpAddressAlreadyAllocated"
        assert await AllocationCollector(objects, grace=0).collect() == 2
        assert await _held(objects, nm.IP_ALLOCATION) == set()
        assert await _held(objects, nm.MAC_ALLOCATION) == set()
        port = await core_ports.create_port(objects, Actor.kumo(PROJECT), req)
        assert port["spec"]["fixedIps"] == [{"subnetId": SUBNET, "ipAddress": "10.0.0.5"}]
    finally:
        await objects.backend.close()


def test_collector_runs_with_the_server() -> None:
    from kumo.control import allocations
    from kumo.server import background_tasks

    assert allocations.run in background_tasks()
