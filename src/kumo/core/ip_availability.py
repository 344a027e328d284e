"""Network IP availability (Neutron's network-ip-availability): per network and subnet,
how many addresses the allocation pools offer and how many are held.

Held = the IPAllocation claims on the subnet (kumo.core.ipam's one record per fixed IP),
so the figure is what the next port create would meet, not a cached counter.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from typing import Any

from kumo import store
from kumo.model import network as nm

Obj = dict[str, Any]


def pool_size(subnet: Obj) -> int:
    """Addresses the subnet's allocation pools offer (Neutron's total_ips)."""
    total = 0
    for p in subnet["spec"].get("allocationPools") or []:
        start, end = ipaddress.ip_address(p["start"]), ipaddress.ip_address(p["end"])
        total += int(end) - int(start) + 1
    return total


async def availability(objects: store.ObjectStore, networks: list[Obj]) -> list[Obj]:
    """One record per network: its subnets' totals and used counts, and their sums."""
    wanted = {n["metadata"]["name"] for n in networks}
    subnets = [s for s in (await objects.list(nm.SUBNET, None)).items
               if s["spec"].get("networkId") in wanted]
    used = Counter(a["spec"].get("subnetId")
                   for a in (await objects.list(nm.IP_ALLOCATION, None)).items)
    per_net: dict[str, list[Obj]] = {}
    for s in subnets:
        sid = s["metadata"]["name"]
        per_net.setdefault(s["spec"]["networkId"], []).append({
            "subnet_id": sid, "subnet_name": s["spec"].get("name", ""),
            "cidr": s["spec"]["cidr"], "ip_version": s["spec"].get("ipVersion", 4),
            "total_ips": pool_size(s), "used_ips": used.get(sid, 0)})
    out = []
    for n in networks:
        subs = per_net.get(n["metadata"]["name"], [])
        out.append({"network_id": n["metadata"]["name"],
                    "network_name": n["spec"].get("name", ""),
                    "project_id": n["metadata"]["namespace"],
                    "tenant_id": n["metadata"]["namespace"],
                    "total_ips": sum(s["total_ips"] for s in subs),
                    "used_ips": sum(s["used_ips"] for s in subs),
                    "subnet_ip_availability": subs})
    return out
