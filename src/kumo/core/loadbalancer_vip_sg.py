"""A load balancer's VIP security group, as Octavia makes one: ``lb-<lb id>``, allowing
each listener's port (from its allowed_cidrs, else from anywhere) and nothing else.

The group's id derives from the LB's id and each rule's id from (listener, cidr), so
``sync`` is level-based: it makes what is missing and deletes what no listener wants,
and a retry finds what the last try made. The scheduler (control/loadbalancers.py) runs
it on every change of the LB; ``drop`` removes the group with the LB. The VIP port is
made with port security on and this group, so the host's nftables filter (agent
network_secgroups) guards the VIP like any port.

    group_id(lb_id) -> str
    ensure_group(objects, project, lb_id) -> str
    desired(lb) -> {rule id: rule spec}
    sync(objects, lb) -> (added, removed)
    drop(objects, project, lb_id)
"""

from __future__ import annotations

import uuid
from typing import Any

from kumo import store
from kumo.model import network as nm

from .secgroups import new_object, rule_spec

Obj = dict[str, Any]
_NS = uuid.UUID("6c0d3f7e-4f1a-4f7e-9a59-1b0c2f6c1b7a")
LB_LABEL = "kumo.io/loadbalancer"


def group_id(lb_id: str) -> str:
    return str(uuid.uuid5(_NS, f"vip-sg-{lb_id}"))


async def ensure_group(objects: store.ObjectStore, project: str, lb_id: str) -> str:
    gid = group_id(lb_id)
    try:
        await objects.create(new_object(nm.SECURITY_GROUP, project, gid, {
            "name": f"lb-{lb_id}", "description": f"VIP of load balancer {lb_id} (kumo)",
            "stateful": True, "tags": []}, {LB_LABEL: lb_id}))
    except store.AlreadyExists:
        pass
    return gid


def desired(lb: Obj) -> dict[str, Obj]:
    """One ingress rule per (listener, allowed cidr) and the egress the replies need."""
    lb_id = lb["metadata"]["name"]
    gid = group_id(lb_id)
    out: dict[str, Obj] = {}
    for direction in ("egress",):
        out[str(uuid.uuid5(_NS, f"{gid}-{direction}"))] = rule_spec(gid, direction, "IPv4")
    for x in lb["spec"].get("listeners") or []:
        proto = "udp" if x["protocol"] == "UDP" else "tcp"
        for cidr in x.get("allowedCidrs") or ["0.0.0.0/0"]:
            rid = str(uuid.uuid5(_NS, f"{gid}-{x['id']}-{cidr}"))
            out[rid] = {**rule_spec(gid, "ingress", "IPv4"), "protocol": proto,
                        "portRangeMin": int(x["protocolPort"]),
                        "portRangeMax": int(x["protocolPort"]), "remoteIpPrefix": cidr,
                        "description": f"listener {x['id']}"}
    return out


async def _existing(objects: store.ObjectStore, project: str, gid: str) -> dict[str, Obj]:
    found = await objects.list(nm.SECURITY_GROUP_RULE, project,
                               label_selector=f"{nm.SG_LABEL}={gid}")
    return {r["metadata"]["name"]: r for r in found.items}


async def sync(objects: store.ObjectStore, lb: Obj) -> tuple[int, int]:
    """Make the group's rules what the LB's listeners want: (added, removed)."""
    project, lb_id = lb["metadata"]["namespace"], lb["metadata"]["name"]
    gid = await ensure_group(objects, project, lb_id)
    want, have = desired(lb), await _existing(objects, project, gid)
    added = removed = 0
    for rid, spec in want.items():
        if rid not in have:
            try:
                await objects.create(new_object(nm.SECURITY_GROUP_RULE, project, rid, spec,
                                                {nm.SG_LABEL: gid, LB_LABEL: lb_id}))
                added += 1
            except store.AlreadyExists:
                pass
    for rid in set(have) - set(want):
        try:
            await objects.delete(nm.SECURITY_GROUP_RULE, project, rid)
            removed += 1
        except store.NotFound:
            pass
    return added, removed


async def drop(objects: store.ObjectStore, project: str, lb_id: str) -> None:
    gid = group_id(lb_id)
    for rid in await _existing(objects, project, gid):
        try:
            await objects.delete(nm.SECURITY_GROUP_RULE, project, rid)
        except store.NotFound:
            pass
    try:
        await objects.delete(nm.SECURITY_GROUP, project, gid)
    except store.NotFound:
        pass
