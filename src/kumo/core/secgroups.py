"""Security groups as the domain needs them: every project's ``default`` group.

The default group's id is derived from the project (``nm.default_security_group_id``)
and its rules' ids from the group, so concurrent first requests (a port create and a
group list, say) make it exactly once: the store refuses the second create.
"""

from __future__ import annotations

import uuid
from typing import Any

from kumo import store
from kumo.model import network as nm

from . import quotas
from .errors import NotFound

Obj = dict[str, Any]
_DEFAULT_RULES = (("egress", "IPv4", False), ("egress", "IPv6", False),
                  ("ingress", "IPv4", True), ("ingress", "IPv6", True))


def default_rule_id(group_id: str, n: int) -> str:
    return str(uuid.uuid5(uuid.UUID(group_id), f"default-rule-{n}"))


def rule_spec(group_id: str, direction: str, ethertype: str,
              remote_group: str | None = None) -> Obj:
    """An any-protocol rule (Neutron's default egress/ingress rules)."""
    return {"securityGroupId": group_id, "direction": direction, "ethertype": ethertype,
            "protocol": None, "portRangeMin": None, "portRangeMax": None,
            "remoteIpPrefix": None, "remoteGroupId": remote_group,
            "remoteAddressGroupId": None, "description": ""}


def new_object(kind: str, project: str, name: str, spec: Obj,
               labels: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "kumo.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": project, "labels": labels or {}},
            "spec": spec}


async def _create_once(objects: store.ObjectStore, obj: Obj) -> None:
    try:
        await objects.create(obj)
    except store.AlreadyExists:
        pass


async def ensure_default(objects: store.ObjectStore, project: str) -> str:
    """The project's default group, made with its rules on first use."""
    gid = nm.default_security_group_id(project)
    if await objects.try_get(nm.SECURITY_GROUP, project, gid) is not None:
        return gid
    rules = {default_rule_id(gid, n): {"security_group_rule": 1}
             for n in range(len(_DEFAULT_RULES))}
    await quotas.claim(objects, project, quotas.NETWORK,  # counted, never refused
                       {gid: {"security_group": 1}, **rules})
    for n, (direction, ether, remote) in enumerate(_DEFAULT_RULES):
        spec = rule_spec(gid, direction, ether, gid if remote else None)
        await _create_once(objects, new_object(nm.SECURITY_GROUP_RULE, project,
                                               default_rule_id(gid, n), spec,
                                               {nm.SG_LABEL: gid}))
    await _create_once(objects, new_object(nm.SECURITY_GROUP, project, gid, {
        "name": "default", "description": "Default security group", "stateful": True,
        "tags": []}))
    return gid


async def resolve_groups(objects: store.ObjectStore, project: str, ids: list[str]) -> list[str]:
    """The given groups of ``project``, deduplicated in order (NotFound for a missing one)."""
    out: list[str] = []
    for gid in ids:
        gid = str(gid)
        if gid == nm.default_security_group_id(project):
            await ensure_default(objects, project)
        if await objects.try_get(nm.SECURITY_GROUP, project, gid) is None:
            raise NotFound(f"Security group {gid} does not exist", code="SecurityGroupNotFound",
                           kind=nm.SECURITY_GROUP, ident=gid)
        if gid not in out:
            out.append(gid)
    return out
