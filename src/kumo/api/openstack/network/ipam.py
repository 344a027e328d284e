"""IPAM by compare-and-swap: an address or MAC is held by whoever created its
allocation record; the store refuses a second create of the same name.

Automatic allocation lists the subnet's records, tries the lowest free address of
the pools and, after a collision, random ones among the free; when none is left it
re-reads, and fails with IpAddressGenerationFailure only when the subnet is full.
"""

from __future__ import annotations

import ipaddress
import random
import secrets
from typing import Any

from kumo import store
from kumo.model import network as nm

from ...runtime import Runtime
from .common import err

Obj = dict[str, Any]
IPv4 = ipaddress.IPv4Address
CANDIDATES = 256
MAC_PREFIX = "fa:16:3e"


def no_more_ips(net_id: str) -> Exception:
    return err(409, "IpAddressGenerationFailure",
               f"No more IP addresses available on network {net_id}.")


def ip_taken(ip: str, subnet_id: str) -> Exception:
    return err(409, "IpAddressAlreadyAllocated",
               f"IP address {ip} already allocated in subnet {subnet_id}")


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


async def taken(rt: Runtime, subnet_id: str) -> set[int]:
    found = await rt.objects.list(nm.IP_ALLOCATION, None,
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


async def claim_ip(rt: Runtime, sub: Obj, ip: str, port_id: str, project: str) -> str:
    """Claim one given address (409 IpAddressAlreadyAllocated if someone holds it)."""
    if sub["spec"].get("gatewayIp") == ip:
        raise ip_taken(ip, sub["metadata"]["name"])
    try:
        await rt.objects.create(_record(sub, ip, port_id, project))
    except store.AlreadyExists:
        raise ip_taken(ip, sub["metadata"]["name"]) from None
    return ip


async def allocate_ip(rt: Runtime, sub: Obj, port_id: str, project: str) -> str:
    """Claim a free address of the subnet's pools, or IpAddressGenerationFailure."""
    ranges = pool_ranges(sub)
    tried: set[int] = set()
    first = True
    while True:
        used = await taken(rt, sub["metadata"]["name"])
        candidates = free_candidates(ranges, used, tried)
        if not candidates:
            raise no_more_ips(sub["spec"]["networkId"])
        while candidates:
            pick = candidates[0] if first else random.choice(candidates)
            first = False
            candidates.remove(pick)
            tried.add(pick)
            ip = str(IPv4(pick))
            try:
                await rt.objects.create(_record(sub, ip, port_id, project))
                return ip
            except store.AlreadyExists:
                continue


async def release_ip(rt: Runtime, subnet_id: str, ip: str, port_id: str) -> None:
    name = nm.ip_allocation_name(subnet_id, ip)
    obj = await rt.objects.try_get(nm.IP_ALLOCATION, "", name)
    if obj is None or obj["spec"].get("portId") != port_id:
        return
    try:
        await rt.objects.delete(nm.IP_ALLOCATION, "", name,
                                expected_rv=int(obj["metadata"]["resourceVersion"]))
    except (store.NotFound, store.Conflict):
        pass


# ---- MACs -----------------------------------------------------------------------------
def random_mac() -> str:
    return MAC_PREFIX + "".join(f":{b:02x}" for b in secrets.token_bytes(3))


def normalise_mac(value: Any) -> str:
    text = str(value).strip().lower().replace("-", ":")
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(ch in "0123456789abcdef" for ch in p)
                                  for p in parts):
        raise err(400, "InvalidInput", f"Invalid input for operation: '{value}' is not a "
                                       "valid MAC address.")
    if int(parts[0], 16) & 1 or text == "00:00:00:00:00:00":
        raise err(400, "InvalidInput", f"Invalid input for operation: '{value}' is not a "
                                       "valid unicast MAC address.")
    return text


async def claim_mac(rt: Runtime, net_id: str, mac: str | None, port_id: str,
                    project: str) -> str:
    """Claim the given MAC (409 MacAddressInUse) or a random fa:16:3e one."""
    for _ in range(32 if mac is None else 1):
        candidate = mac or random_mac()
        rec = {"apiVersion": "kumo.io/v1", "kind": nm.MAC_ALLOCATION,
               "metadata": {"name": nm.mac_allocation_name(net_id, candidate),
                            "labels": {nm.NETWORK_LABEL: net_id}},
               "spec": {"networkId": net_id, "macAddress": candidate, "portId": port_id,
                        "project": project}}
        try:
            await rt.objects.create(rec)
            return candidate
        except store.AlreadyExists:
            if mac is not None:
                raise err(409, "MacAddressInUse",
                          f"Unable to complete operation for network {net_id}. The mac "
                          f"address {mac} is in use.") from None
    raise err(503, "MacAddressGenerationFailure",
              f"Unable to generate unique mac on network {net_id}.")


async def release_mac(rt: Runtime, net_id: str, mac: str, port_id: str) -> None:
    name = nm.mac_allocation_name(net_id, mac)
    obj = await rt.objects.try_get(nm.MAC_ALLOCATION, "", name)
    if obj is None or obj["spec"].get("portId") != port_id:
        return
    try:
        await rt.objects.delete(nm.MAC_ALLOCATION, "", name,
                                expected_rv=int(obj["metadata"]["resourceVersion"]))
    except (store.NotFound, store.Conflict):
        pass
