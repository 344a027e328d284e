"""IPAM by compare-and-swap: an address or MAC is held by whoever created its
allocation record; the store refuses a second create of the same name.

Automatic allocation probes by next-fit (a per-subnet cursor in this process: the
lowest address first on a fresh subnet, wrapping at the end of the pools), each
probe a create, so its cost does not grow with the cloud. After ``PROBES``
collisions in a row it lists the subnet's records, tries the lowest free address
and then random ones among the free; it fails (``Exhausted``) only when the subnet
is full. Refusals carry
Neutron's type names as ``code`` (IpAddressAlreadyAllocated, MacAddressInUse ...),
which every face maps to its own status.
"""

from __future__ import annotations

import ipaddress
import random
import secrets
from typing import Any

from kumo import store
from kumo.model import network as nm

from .errors import AlreadyExists, Exhausted, Invalid

Obj = dict[str, Any]
IPv4 = ipaddress.IPv4Address
CANDIDATES = 256
PROBES = 16  # next-fit collisions in a row before the subnet's records are read
CURSORS = 4096  # subnets whose next-fit cursor this process remembers
_cursor: dict[str, int] = {}  # subnet uid -> next address to try
MAC_PREFIX = "fa:16:3e"
MAC_ATTEMPTS = 32


def no_more_ips(net_id: str) -> Exhausted:
    return Exhausted(f"No more IP addresses available on network {net_id}.",
                     code="IpAddressGenerationFailure", kind=nm.NETWORK, ident=net_id)


def ip_taken(ip: str, subnet_id: str) -> AlreadyExists:
    return AlreadyExists(f"IP address {ip} already allocated in subnet {subnet_id}",
                         code="IpAddressAlreadyAllocated", kind=nm.IP_ALLOCATION,
                         ident=nm.ip_allocation_name(subnet_id, ip))


def pool_ranges(sub: Obj) -> list[tuple[int, int]]:
    return sorted((int(IPv4(p["start"])), int(IPv4(p["end"])))
                  for p in sub["spec"].get("allocationPools") or [])


def host_range(sub: Obj) -> tuple[int, int]:
    net = ipaddress.IPv4Network(sub["spec"]["cidr"])
    return int(net.network_address) + 1, int(net.broadcast_address) - 1


def valid_for_subnet(sub: Obj, ip: str) -> bool:
    lo, hi = host_range(sub)
    return lo <= int(IPv4(ip)) <= hi


def _record(sub: Obj, ip: str, port_id: str, project: str) -> Obj:
    sid = sub["metadata"]["name"]
    net_id = sub["spec"]["networkId"]
    return {"apiVersion": "kumo.io/v1", "kind": nm.IP_ALLOCATION,
            "metadata": {"name": nm.ip_allocation_name(sid, ip),
                         "labels": {nm.SUBNET_LABEL: sid, nm.NETWORK_LABEL: net_id}},
            "spec": {"subnetId": sid, "networkId": net_id, "ipAddress": ip, "portId": port_id,
                     "project": project}}


async def taken(objects: store.ObjectStore, subnet_id: str) -> set[int]:
    found = await objects.list(nm.IP_ALLOCATION, None,
                               label_selector=f"{nm.SUBNET_LABEL}={subnet_id}")
    return {int(IPv4(a["spec"]["ipAddress"])) for a in found.items}


def free_candidates(ranges: list[tuple[int, int]], used: set[int], skip: set[int],
                    k: int = CANDIDATES) -> list[int]:
    """Up to ``k`` free addresses of the pools, lowest first (O(len(used) + k))."""
    out: list[int] = []
    for lo, hi in ranges:
        x = lo
        while x <= hi and len(out) < k:
            if x not in used and x not in skip:
                out.append(x)
            x += 1
        if len(out) >= k:
            break
    return out


async def claim_ip(objects: store.ObjectStore, sub: Obj, ip: str, port_id: str,
                   project: str) -> str:
    """Claim one given address (AlreadyExists/IpAddressAlreadyAllocated if held)."""
    if sub["spec"].get("gatewayIp") == ip:
        raise ip_taken(ip, sub["metadata"]["name"])
    try:
        await objects.create(_record(sub, ip, port_id, project))
    except store.AlreadyExists:
        raise ip_taken(ip, sub["metadata"]["name"]) from None
    return ip


async def claim_gateway_ip(objects: store.ObjectStore, sub: Obj, port_id: str,
                           project: str) -> str:
    """Claim the subnet's gateway address for the router interface that serves it
    (claim_ip refuses it to everyone else)."""
    ip = sub["spec"]["gatewayIp"]
    try:
        await objects.create(_record(sub, ip, port_id, project))
    except store.AlreadyExists:
        raise ip_taken(ip, sub["metadata"]["name"]) from None
    return ip


def _next_pick(sub: Obj, ranges: list[tuple[int, int]]) -> int:
    """The subnet's next address by next-fit (lowest first on a fresh subnet, wrapping at
    the end of the pools). The cursor is this process's hint, never an authority: the
    create of the allocation record is the claim."""
    key = sub["metadata"].get("uid") or sub["metadata"]["name"]
    x = _cursor.get(key, ranges[0][0])
    for lo, hi in ranges:
        if x <= hi:
            x = max(x, lo)
            break
    else:
        x = ranges[0][0]  # past the last pool: wrap, released addresses come round again
    if len(_cursor) >= CURSORS:
        _cursor.clear()
    _cursor[key] = x + 1
    return x


async def _create(objects: store.ObjectStore, sub: Obj, x: int, port_id: str,
                  project: str) -> str | None:
    ip = str(IPv4(x))
    try:
        await objects.create(_record(sub, ip, port_id, project))
        return ip
    except store.AlreadyExists:
        return None


async def allocate_ip(objects: store.ObjectStore, sub: Obj, port_id: str, project: str) -> str:
    """Claim a free address of the subnet's pools, or Exhausted (IpAddressGenerationFailure).

    Cost does not grow with the cloud: a few next-fit probes, each one create (the
    claim); only after ``PROBES`` collisions in a row (a crowded subnet, or a cursor
    lost to a restart) is the subnet's record list read, once.
    """
    ranges = pool_ranges(sub)
    if not ranges:
        raise no_more_ips(sub["spec"]["networkId"])
    gateway = sub["spec"].get("gatewayIp")
    skip = {int(IPv4(gateway))} if gateway else set()
    size = sum(hi - lo + 1 for lo, hi in ranges)
    tried: set[int] = set()
    for _ in range(min(PROBES, size)):
        x = _next_pick(sub, ranges)
        if x in skip or x in tried:
            continue
        tried.add(x)
        if (ip := await _create(objects, sub, x, port_id, project)) is not None:
            return ip
    return await _allocate_by_scan(objects, sub, ranges, port_id, project, tried | skip)


async def _allocate_by_scan(objects: store.ObjectStore, sub: Obj, ranges: list[tuple[int, int]],
                            port_id: str, project: str, tried: set[int]) -> str:
    """Read what the subnet holds; try the lowest free, then random ones among the free."""
    first = True
    while True:
        used = await taken(objects, sub["metadata"]["name"])
        candidates = free_candidates(ranges, used, tried)
        if not candidates:
            raise no_more_ips(sub["spec"]["networkId"])
        while candidates:
            pick = candidates[0] if first else random.choice(candidates)
            first = False
            candidates.remove(pick)
            tried.add(pick)
            if (ip := await _create(objects, sub, pick, port_id, project)) is not None:
                key = sub["metadata"].get("uid") or sub["metadata"]["name"]
                _cursor[key] = pick + 1
                return ip


async def _release(objects: store.ObjectStore, kind: str, name: str, port_id: str) -> None:
    """Delete an allocation record, only if ``port_id`` still holds it."""
    obj = await objects.try_get(kind, "", name)
    if obj is None or obj["spec"].get("portId") != port_id:
        return
    try:
        await objects.delete(kind, "", name, expected_rv=int(obj["metadata"]["resourceVersion"]))
    except (store.NotFound, store.Conflict):
        pass


async def release_ip(objects: store.ObjectStore, subnet_id: str, ip: str, port_id: str) -> None:
    await _release(objects, nm.IP_ALLOCATION, nm.ip_allocation_name(subnet_id, ip), port_id)


# ---- MACs -----------------------------------------------------------------------------
def random_mac() -> str:
    return MAC_PREFIX + "".join(f":{b:02x}" for b in secrets.token_bytes(3))


def normalise_mac(value: Any) -> str:
    """``aa:bb:..`` lower case, or Invalid (InvalidInput) for anything not a unicast MAC."""
    text = str(value).strip().lower().replace("-", ":")
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(ch in "0123456789abcdef" for ch in p)
                                  for p in parts):
        raise Invalid(f"'{value}' is not a valid MAC address.", code="InvalidInput")
    if int(parts[0], 16) & 1 or text == "00:00:00:00:00:00":
        raise Invalid(f"'{value}' is not a valid unicast MAC address.", code="InvalidInput")
    return text


def _mac_record(net_id: str, mac: str, port_id: str, project: str) -> Obj:
    return {"apiVersion": "kumo.io/v1", "kind": nm.MAC_ALLOCATION,
            "metadata": {"name": nm.mac_allocation_name(net_id, mac),
                         "labels": {nm.NETWORK_LABEL: net_id}},
            "spec": {"networkId": net_id, "macAddress": mac, "portId": port_id,
                     "project": project}}


async def claim_mac(objects: store.ObjectStore, net_id: str, mac: str | None, port_id: str,
                    project: str) -> str:
    """Claim the given MAC (AlreadyExists/MacAddressInUse) or a random fa:16:3e one."""
    for _ in range(MAC_ATTEMPTS if mac is None else 1):
        candidate = mac or random_mac()
        try:
            await objects.create(_mac_record(net_id, candidate, port_id, project))
            return candidate
        except store.AlreadyExists:
            if mac is not None:
                raise AlreadyExists(f"Unable to complete operation for network {net_id}. The "
                                    f"mac address {mac} is in use.", code="MacAddressInUse",
                                    kind=nm.MAC_ALLOCATION) from None
    raise Exhausted(f"Unable to generate unique mac on network {net_id}.",
                    code="MacAddressGenerationFailure", kind=nm.NETWORK, ident=net_id)


async def release_mac(objects: store.ObjectStore, net_id: str, mac: str, port_id: str) -> None:
    await _release(objects, nm.MAC_ALLOCATION, nm.mac_allocation_name(net_id, mac), port_id)
