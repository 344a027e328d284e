"""PTR records for floating IPs (Designate's ``/v2/reverse/floatingips``).

A floating IP's PTR lives in a reverse zone kumo owns in its own project ``MANAGED``
(Designate's managed resource tenant): ``c.b.a.in-addr.arpa.`` for an IPv4 address (its
/24), the /64 nibble zone for IPv6, made on first use. The tenant who owns the floating
IP sets and unsets its PTR; nobody writes into the managed zones otherwise. Writes go
through ``dns_records`` as kumo, so the secondaries get them by NOTIFY + IXFR like any
other change. ``sync_ptrs`` (run by ``control/dns_neutron``) adds a PTR for every name
dns-integration publishes and drops a PTR whose floating IP or published name is gone.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kumo import store
from kumo.model import compute as cm
from kumo.model import dns as dm
from kumo.model import network as nm

from . import dns as zones
from . import dns_records as records
from . import dns_rules as rules
from .actor import Actor
from .errors import AlreadyExists, NotFound
from .floatingips import fip_not_found

Obj = dict[str, Any]
MANAGED = "kumo-dns-managed"  # the project holding the reverse zones
MANAGED_EMAIL = "hostmaster@kumo.test"
MARK = "kumo: neutron dns-integration"  # a PTR kumo made for a published name


def ptr_name(address: str) -> str:
    return ipaddress.ip_address(address).reverse_pointer + "."


def zone_name(address: str) -> str:
    ip = ipaddress.ip_address(address)
    labels = ip.reverse_pointer.split(".")
    keep = 1 if ip.version == 4 else 16  # drop the host part: /24, /64
    return ".".join(labels[keep:]) + "."


def _actor() -> Actor:
    return Actor.kumo(MANAGED)


async def _unlimited(objects: store.ObjectStore) -> None:
    """The managed project holds as many reverse zones and records as there are /24s."""
    quota = {"apiVersion": "kumo.io/v1", "kind": cm.QUOTA_SET,
             "metadata": {"name": dm.QUOTA_NAME, "namespace": MANAGED},
             "spec": {k: -1 for k in dm.QUOTA_DEFAULTS}}
    try:
        await objects.create(quota)
    except store.AlreadyExists:
        pass


async def find_zone(objects: store.ObjectStore, address: str) -> Obj | None:
    name = zone_name(address)
    return next((z for z in (await objects.list(dm.DNS_ZONE, MANAGED)).items
                 if z["spec"]["name"] == name), None)


async def _zone(objects: store.ObjectStore, address: str) -> Obj:
    found = await find_zone(objects, address)
    if found is not None:
        return found
    await _unlimited(objects)
    try:
        return await zones.create_zone(objects, _actor(), {
            "name": zone_name(address), "email": MANAGED_EMAIL}, privileged=True)
    except AlreadyExists:
        found = await find_zone(objects, address)
        assert found is not None
        return found


async def get_ptr(objects: store.ObjectStore, address: str) -> Obj | None:
    """The PTR recordset of ``address``, None when unset."""
    zone = await find_zone(objects, address)
    return None if zone is None else await _ptr_in(objects, zone, address)


async def _ptr_in(objects: store.ObjectStore, zone: Obj, address: str) -> Obj | None:
    name = ptr_name(address)
    return next((s for s in await records.zone_sets(objects, zone)
                 if s["spec"]["name"] == name and s["spec"]["type"] == "PTR"), None)


async def set_ptr(objects: store.ObjectStore, address: str, ptrdname: object,
                  ttl: object = None, description: object = None) -> Obj:
    """Make (or change) the PTR of ``address``; the recordset as stored."""
    target = rules.check_fqdn(ptrdname, "ptrdname")
    # an API caller's PTR is never kumo's (MARK), so sync_ptrs leaves it alone
    body: Obj = {"records": [target], "description": "" if description is None
                 else description}
    if ttl is not None:
        body["ttl"] = ttl
    zone = await _zone(objects, address)
    cur = await _ptr_in(objects, zone, address)
    if cur is not None:
        return await records.update_recordset(objects, _actor(), zone, cur["metadata"]["name"],
                                              body)
    return await records.create_recordset(objects, _actor(), zone, {
        "name": ptr_name(address), "type": "PTR", **body})


async def unset_ptr(objects: store.ObjectStore, address: str) -> bool:
    zone = await find_zone(objects, address)
    cur = None if zone is None else await _ptr_in(objects, zone, address)
    if zone is None or cur is None:
        return False
    await records.delete_recordset(objects, _actor(), zone, cur["metadata"]["name"])
    return True


def _keep(rs: Obj, auto: dict[str, str], fips: set[str]) -> bool | None:
    """True: the set stays as it is; False: it goes; None: kumo's, to be rewritten."""
    name = rs["spec"]["name"]
    if rs["spec"].get("description") != MARK:  # set through /v2/reverse/floatingips
        return name in fips
    if name not in auto:
        return False
    return True if rs["spec"].get("records") == [auto[name]] else None


async def sync_ptrs(objects: store.ObjectStore, published: dict[str, str],
                    fip_addresses: set[str]) -> int:
    """Reverse records made equal to what is wanted; how many writes.

    ``published``: address → FQDN of every name dns-integration published (kumo's PTRs,
    marked ``MARK``); a PTR set through the API wins over kumo's and stays while a floating
    IP holds its address."""
    auto = {ptr_name(a): f for a, f in published.items()}
    fips = {ptr_name(a) for a in fip_addresses}
    writes, seen = 0, set()
    for zone in (await objects.list(dm.DNS_ZONE, MANAGED)).items:
        for rs in await records.zone_sets(objects, zone):
            if rs["spec"]["type"] != "PTR":
                continue
            seen.add(rs["spec"]["name"])
            keep = _keep(rs, auto, fips)
            if keep:
                continue
            fresh = await objects.get(dm.DNS_ZONE, MANAGED, zone["metadata"]["name"])
            try:
                if keep is None:
                    await records.update_recordset(objects, _actor(), fresh,
                                                   rs["metadata"]["name"],
                                                   {"records": [auto[rs["spec"]["name"]]]})
                else:
                    await records.delete_recordset(objects, _actor(), fresh,
                                                   rs["metadata"]["name"])
            except NotFound:
                continue
            writes += 1
    for address, fqdn in published.items():
        if ptr_name(address) not in seen:
            await set_ptr(objects, address, fqdn, description=MARK)
            writes += 1
    return writes


async def floating_ips(objects: store.ObjectStore, actor: Actor) -> list[Obj]:
    """The floating IPs whose PTRs ``actor`` may read and set."""
    project = None if actor.is_admin else actor.project_id or ""
    return (await objects.list(nm.FLOATING_IP, project)).items


async def floating_ip(objects: store.ObjectStore, actor: Actor, fip_id: str) -> Obj:
    """One of the actor's floating IPs (another project's is not found, as in Neutron)."""
    found = None
    if actor.project_id:
        found = await objects.try_get(nm.FLOATING_IP, actor.project_id, fip_id)
    if found is None and actor.is_admin:
        found = next((f for f in (await objects.list(nm.FLOATING_IP, None)).items
                      if f["metadata"]["name"] == fip_id), None)
    if found is None:
        raise fip_not_found(fip_id)
    return found
