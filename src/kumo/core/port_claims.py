"""A port create's claims: quota count, MAC and addresses side by side (their writes
share the store's group commits), then the Port and its quota record side by side;
all of it given back if any step fails. Used by ``core/ports.py``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from kumo import store
from kumo.model import compute as cm
from kumo.model import network as nm

from . import ipam, quotas
from .actor import Actor
from .errors import Exhausted
from .port_rules import PortRequest

Obj = dict[str, Any]


@dataclass
class Held:
    """What a create has claimed so far (released in full if the create fails)."""

    ips: list[tuple[str, str]] = field(default_factory=list)  # (subnet id, address)
    mac: str | None = None
    counted: dict[str, quotas.Deltas] = field(default_factory=dict)
    recorded: bool = False


async def count_quota(objects: store.ObjectStore, actor: Actor, project: str, port_id: str,
                      held: Held, new: bool) -> None:
    """Count the port before it is written (coalesced CAS on the project's usage: racing
    creates never pass the limit); kumo's own ports are counted, never refused."""
    limits = None
    if not actor.system:
        found = await objects.try_get(cm.QUOTA_SET, project, nm.QUOTA_NAME)
        limits = {"port": int(((found or {}).get("spec") or {}).get(
            "port", nm.QUOTA_DEFAULTS["port"]))}
    held.counted = await quotas.count(objects, project, quotas.NETWORK, {port_id: {"port": 1}},
                                      limits, new=new)


async def allocate_any(objects: store.ObjectStore, subnets: list[Obj], port_id: str,
                       project: str, net_id: str) -> tuple[str, Obj]:
    """One address from the first subnet that has one free."""
    for sub in subnets:
        try:
            return await ipam.allocate_ip(objects, sub, port_id, project), sub
        except Exhausted as exc:
            if exc.code != "IpAddressGenerationFailure":
                raise
    raise ipam.no_more_ips(net_id)


async def claim_ips(objects: store.ObjectStore, plan: list[tuple[Obj, str | None]],
                    port_id: str, project: str, claimed: list[tuple[str, str]]) -> None:
    """Claim each (subnet, ip or any) of ``plan``, appending to ``claimed`` as it goes."""
    for sub, ip in plan:
        got = await (ipam.claim_ip(objects, sub, ip, port_id, project) if ip is not None
                     else ipam.allocate_ip(objects, sub, port_id, project))
        claimed.append((sub["metadata"]["name"], got))


async def release_ips(objects: store.ObjectStore, claimed: list[tuple[str, str]],
                      port_id: str) -> None:
    for sid, ip in claimed:
        await ipam.release_ip(objects, sid, ip, port_id)


async def claim_all(objects: store.ObjectStore, actor: Actor, req: PortRequest, net_id: str,
                    subnets: list[Obj], wanted: list[tuple[Obj, str | None]], auto: bool,
                    port_id: str, held: Held) -> None:
    """Quota, MAC and addresses claimed side by side: their writes share commits."""
    project = req.project

    async def mac() -> None:
        held.mac = await ipam.claim_mac(objects, net_id, req.mac_address, port_id, project)

    async def ips() -> None:
        if auto:
            ip, sub = await allocate_any(objects, subnets, port_id, project, net_id)
            held.ips.append((sub["metadata"]["name"], ip))
        await claim_ips(objects, wanted, port_id, project, held.ips)

    new = req.port_id is None  # a random id: never claimed before
    results = await asyncio.gather(count_quota(objects, actor, project, port_id, held, new),
                                   mac(), ips(), return_exceptions=True)
    for res in results:  # the quota's refusal first, as Neutron checks it first
        if isinstance(res, BaseException):
            raise res


async def unclaim(objects: store.ObjectStore, project: str, net_id: str, port_id: str,
                  held: Held) -> None:
    await release_ips(objects, held.ips, port_id)
    if held.mac:
        await ipam.release_mac(objects, net_id, held.mac, port_id)
    if held.recorded:
        await quotas.release(objects, project, quotas.NETWORK, [port_id])
    elif held.counted:
        await quotas.uncount(objects, project, quotas.NETWORK, held.counted)


async def write_port(objects: store.ObjectStore, project: str, port_obj: Obj,
                     held: Held) -> Obj:
    """The Port and its quota record, side by side (one commit)."""
    port, rec = await asyncio.gather(
        objects.create(port_obj),
        quotas.record(objects, project, quotas.NETWORK, held.counted),
        return_exceptions=True)
    held.recorded = not isinstance(rec, BaseException)
    if isinstance(port, BaseException):
        raise port
    # a lost record (store error) is repaired by quotas.reconcile: the port gets claimed
    return port


