"""The dns-integration reconciler over a real store: A and AAAA sets (and PTRs) for a
port's addresses in its own project's zone only, the user's sets left alone, everything
kumo made removed with the port, and floating-IP PTRs dropped with their floating IP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kumo import store
from kumo.control.dns_neutron import DnsNeutron
from kumo.core import dns as zones
from kumo.core import dns_neutron as dn
from kumo.core import dns_records as records
from kumo.core import dns_reverse as rev
from kumo.core.actor import Actor
from kumo.model import network as nm

A = Actor("proj-a", "ua", False, True)
B = Actor("proj-b", "ub", False, True)


@pytest.fixture
async def objects(tmp_path: Path) -> AsyncIterator[store.ObjectStore]:
    objs = await store.open_sqlite(str(tmp_path / "store.db"))
    ctl = DnsNeutron(objs)
    run = asyncio.create_task(ctl.run())
    try:
        yield objs
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await objs.backend.close()


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 5) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := await check()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return got


def _obj(kind: str, project: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "kumo.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": project}, "spec": spec}


def _port(project: str, name: str, net: str, dns_name: str, *ips: str) -> dict[str, Any]:
    return _obj(nm.PORT, project, name, {
        "networkId": net, "macAddress": "fa:16:3e:00:00:01", "dnsName": dns_name,
        "fixedIps": [{"subnetId": "s", "ipAddress": ip} for ip in ips]})


async def _sets(objects: store.ObjectStore, zone: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(s["spec"]["name"], s["spec"]["type"]): s
            for s in await records.zone_sets(objects, zone)}


async def test_port_records_in_own_zone_only(objects: store.ObjectStore) -> None:
    zone = await zones.create_zone(objects, A, {"name": "iso.example.",
                                                "email": "a@iso.example"})
    await records.create_recordset(objects, A, zone, {
        "name": "taken.iso.example.", "type": "A", "records": ["10.9.9.9"]})
    await objects.create(_obj(nm.NETWORK, "proj-a", "net-a", {"dnsDomain": "iso.example."}))
    await objects.create(_port("proj-a", "p1", "net-a", "own", "10.0.0.6", "fd00::6"))
    await objects.create(_port("proj-a", "p2", "net-a", "taken", "10.0.0.7"))
    await objects.create(_port("proj-b", "p3", "net-a", "intruder", "10.0.0.8"))

    async def published() -> Any:
        sets = await _sets(objects, zone)
        return sets if {("own.iso.example.", "A"), ("own.iso.example.", "AAAA")} <= set(sets) \
            else None
    sets = await until(published)
    assert sets, "the port's records never appeared"
    assert sets[("own.iso.example.", "A")]["spec"]["records"] == ["10.0.0.6"]
    assert sets[("own.iso.example.", "AAAA")]["spec"]["records"] == ["fd00::6"]
    assert sets[("own.iso.example.", "A")]["spec"]["description"] == dn.MARK
    await asyncio.sleep(0.3)  # give the other project's port every chance
    sets = await _sets(objects, zone)
    assert not any(name.startswith("intruder.") for name, _ in sets)
    assert sets[("taken.iso.example.", "A")]["spec"]["records"] == ["10.9.9.9"]
    ptr = await until(lambda: rev.get_ptr(objects, "fd00::6"))
    assert ptr is not None and ptr["spec"]["records"] == ["own.iso.example."]
    assert ptr["spec"]["description"] == rev.MARK
    assert (await rev.get_ptr(objects, "10.0.0.6"))["spec"]["records"] == ["own.iso.example."]
    assert await rev.get_ptr(objects, "10.0.0.8") is None  # never published, no PTR
    serial = (await objects.get("DnsZone", "proj-a", zone["metadata"]["name"]))["spec"]["serial"]
    assert serial > zone["spec"]["serial"]

    await objects.delete(nm.PORT, "proj-a", "p1")

    async def gone() -> bool:
        return not any(n.startswith("own.") for n, _ in await _sets(objects, zone))
    assert await until(gone), "the port's records outlived it"

    async def no_ptr() -> bool:
        return await rev.get_ptr(objects, "10.0.0.6") is None
    assert await until(no_ptr), "the port's PTR outlived it"
    assert ("taken.iso.example.", "A") in await _sets(objects, zone)


async def test_records_follow_a_zone_made_later(objects: store.ObjectStore) -> None:
    await objects.create(_obj(nm.NETWORK, "proj-a", "net-l", {"dnsDomain": "late.example."}))
    await objects.create(_port("proj-a", "p9", "net-l", "early", "10.1.0.9"))
    zone = await zones.create_zone(objects, A, {"name": "late.example.",
                                                "email": "a@late.example"})

    async def published() -> bool:
        return ("early.late.example.", "A") in await _sets(objects, zone)
    assert await until(published)


async def test_fip_ptr_dropped_with_the_fip(objects: store.ObjectStore) -> None:
    fip = _obj(nm.FLOATING_IP, "proj-b", "fip-1", {
        "floatingNetworkId": "ext", "floatingIpAddress": "10.78.1.20"})
    await objects.create(fip)
    await rev.set_ptr(objects, "10.78.1.20", "host.b.example.")
    ptr = await rev.get_ptr(objects, "10.78.1.20")
    assert ptr is not None and ptr["spec"]["records"] == ["host.b.example."]
    assert ptr["metadata"]["namespace"] == rev.MANAGED
    assert rev.zone_name("10.78.1.20") == "1.78.10.in-addr.arpa."
    await objects.delete(nm.FLOATING_IP, "proj-b", "fip-1")

    async def gone() -> bool:
        return await rev.get_ptr(objects, "10.78.1.20") is None
    assert await until(gone), "the PTR outlived its floating IP"
