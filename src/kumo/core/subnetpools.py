"""Subnet pools: IPv4 prefixes that subnets are carved from (Neutron's subnet_allocation).

A pool's claims live in its own status: ``status.allocations[<subnet id>] = <cidr>``,
written by compare-and-swap (``ObjectStore.mutate``), so two subnets made at once from
one pool never get the same or overlapping CIDRs, whatever network they are on. The
subnet create claims first and releases its claim when it fails; a subnet's delete
releases it. A pool is in use (``SubnetPoolInUse``) while it holds claims.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kumo import store
from kumo.model import network as nm

from .errors import Conflict, Exhausted, Invalid, NotFound

Obj = dict[str, Any]
Net = ipaddress.IPv4Network
MIN_PREFIXLEN, MAX_PREFIXLEN = 8, 32  # Neutron's IPv4 bounds when a pool sets none


def parse_prefixes(value: Any) -> list[Net]:
    """A pool's prefixes: IPv4 CIDRs, collapsed as Neutron stores them."""
    if not isinstance(value, list) or not value:
        raise Invalid("Invalid input for prefixes. Reason: a non-empty list of CIDRs is "
                      "required.")
    nets: list[Net] = []
    for p in value:
        try:
            net = ipaddress.ip_network(p, strict=False)
        except (ValueError, TypeError) as exc:
            raise Invalid(f"Invalid input for prefixes. Reason: '{p}' is not a valid IP "
                          "subnet.") from exc
        if not isinstance(net, Net):
            raise Invalid("kumo supports IPv4 subnet pools only.")
        nets.append(net)
    return list(ipaddress.collapse_addresses(nets))


def _prefixlen(name: str, value: Any) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"Invalid input for {name}. Reason: '{value}' is not an integer.") from exc
    if not 1 <= n <= MAX_PREFIXLEN:
        raise Invalid(f"Invalid input for {name}. Reason: '{value}' is not in [1, 32].")
    return n


def bounds(data: Obj, current: Obj) -> tuple[int, int, int]:
    """(min, default, max) prefix lengths: given, else the pool's, else Neutron's."""
    lo = _prefixlen("min_prefixlen", data.get("min_prefixlen",
                                              current.get("minPrefixlen", MIN_PREFIXLEN)))
    hi = _prefixlen("max_prefixlen", data.get("max_prefixlen",
                                              current.get("maxPrefixlen", MAX_PREFIXLEN)))
    default = _prefixlen("default_prefixlen",
                         data.get("default_prefixlen", current.get("defaultPrefixlen", lo)))
    if not lo <= default <= hi:
        raise Invalid(f"Illegal prefix bounds: min_prefixlen={lo}, default_prefixlen="
                      f"{default}, max_prefixlen={hi}.", code="IllegalSubnetPoolPrefixBounds")
    return lo, default, hi


def check_prefix_update(old: list[str], new: list[Net]) -> None:
    """Prefixes may grow, never shrink (subnets already carved would fall outside)."""
    for p in old:
        if not any(ipaddress.ip_network(p).subnet_of(n) for n in new):
            raise Invalid(f"Illegal update to prefixes: {p} is no longer covered.",
                          code="IllegalSubnetPoolPrefixUpdate")


def allocations(pool: Obj) -> dict[str, str]:
    return dict((pool.get("status") or {}).get("allocations") or {})


def choose(spec: Obj, used: list[str], cidr: str | None, prefixlen: int | None) -> Net:
    """The CIDR a new subnet gets: the one asked for (inside the pool, free), or the first
    free block of ``prefixlen`` (the pool's default) in the pool's prefixes."""
    prefixes = [ipaddress.IPv4Network(p) for p in spec.get("prefixes") or []]
    taken = [ipaddress.IPv4Network(u) for u in used]
    lo, hi = spec.get("minPrefixlen", MIN_PREFIXLEN), spec.get("maxPrefixlen", MAX_PREFIXLEN)
    if cidr is not None:
        want = ipaddress.IPv4Network(cidr, strict=False)
        if not any(want.subnet_of(p) for p in prefixes):
            raise Invalid(f"Cidr {want} is not within the subnet pool's prefixes.",
                          code="CidrNotInSubnetPool")
        if not lo <= want.prefixlen <= hi:
            raise Invalid(f"Unsupported prefix length /{want.prefixlen}: the pool allows "
                          f"/{lo} to /{hi}.", code="IllegalSubnetPrefixLength")
        if any(want.overlaps(t) for t in taken):
            raise Conflict(f"Failed to allocate subnet: {want} is already allocated from "
                           "the subnet pool.", code="SubnetAllocationError")
        return want
    length = spec.get("defaultPrefixlen", lo) if prefixlen is None else prefixlen
    if not lo <= length <= hi:
        raise Invalid(f"Unsupported prefix length /{length}: the pool allows /{lo} to /{hi}.",
                      code="IllegalSubnetPrefixLength")
    for p in prefixes:
        if p.prefixlen > length:
            continue
        for block in p.subnets(new_prefix=length):
            if not any(block.overlaps(t) for t in taken):
                return block
    raise Exhausted("Failed to allocate subnet: Insufficient prefix space to allocate "
                    f"subnet size /{length}.", code="SubnetAllocationError")


async def claim(objects: store.ObjectStore, pool: Obj, subnet_id: str, cidr: str | None,
                prefixlen: int | None) -> str:
    """Choose a CIDR for ``subnet_id`` and record it in the pool, race-free (CAS)."""
    chosen: list[str] = []

    def change(o: Obj) -> None:
        held = allocations(o)
        block = choose(o["spec"], [c for s, c in held.items() if s != subnet_id], cidr,
                       prefixlen)
        held[subnet_id] = str(block)
        o.setdefault("status", {})["allocations"] = held
        chosen[:] = [str(block)]

    md = pool["metadata"]
    try:
        await objects.mutate(nm.SUBNET_POOL, md["namespace"], md["name"], change)
    except store.NotFound as exc:
        raise NotFound(f"Subnet pool {md['name']} could not be found.", kind=nm.SUBNET_POOL,
                       ident=md["name"]) from exc
    return chosen[0]


async def release(objects: store.ObjectStore, namespace: str, pool_id: str,
                  subnet_id: str) -> None:
    """Drop a subnet's claim (its delete, or its failed create); a gone pool is fine."""
    def change(o: Obj) -> None:
        held = allocations(o)
        held.pop(subnet_id, None)
        o.setdefault("status", {})["allocations"] = held

    try:
        await objects.mutate(nm.SUBNET_POOL, namespace, pool_id, change)
    except store.NotFound:
        pass


def check_scope(pool_id: str, prefixes: list[str], others: list[Obj]) -> None:
    """Pools of one address scope must not overlap (addresses in a scope are unique):
    ``others`` are the scope's other pools."""
    mine = [ipaddress.IPv4Network(p) for p in prefixes]
    for other in others:
        if other["metadata"]["name"] == pool_id:
            continue
        for p in other["spec"].get("prefixes") or []:
            if any(m.overlaps(ipaddress.IPv4Network(p)) for m in mine):
                raise Invalid(f"Illegal subnetpool association: subnetpool {pool_id} cannot "
                              f"be associated with its address scope: prefix {p} of subnet "
                              f"pool {other['metadata']['name']} overlaps.",
                              code="IllegalSubnetPoolAssociationToAddressScope")


def check_scope_deletable(scope_id: str, pools: list[Obj]) -> None:
    if any(p["spec"].get("addressScopeId") == scope_id for p in pools):
        raise Conflict(f"Unable to complete operation on address scope {scope_id}. There are "
                       "one or more subnet pools in use on the address scope.",
                       code="AddressScopeInUse")


def check_deletable(pool: Obj) -> None:
    if allocations(pool):
        raise Conflict(f"Unable to complete operation on subnet pool {pool['metadata']['name']}"
                       ": Subnet pool has existing allocations.", code="SubnetPoolInUse")
