"""RBAC policies (Neutron's rbac-policies): a network shared with one project, or with
every project (``*``), by ``access_as_shared``.

The share is a label on the network, ``rbac.kumo.io/<project>`` (``rbac.kumo.io/all`` for
``*``), kept by the policy's create and delete, so a project's visible networks are one
label-selected list (``shared_with``), the same lookup port and subnet creates use
(kumo.core.port_rules.find_network). A policy cannot go while the target project still
has ports on the network (``RbacPolicyInUse``), as in Neutron.
"""

from __future__ import annotations

from typing import Any

from kumo import store
from kumo.model import network as nm

from .errors import Conflict, Invalid

Obj = dict[str, Any]
PREFIX = "rbac.kumo.io/"
OBJECT_TYPES = ("network",)
ACTIONS = ("access_as_shared",)


def label_key(target: str) -> str:
    return PREFIX + ("all" if target == "*" else target)


def selectors(project: str) -> list[str]:
    """Label selectors of the networks shared with ``project``."""
    return [f"{label_key(project)}=true", f"{label_key('*')}=true"]


async def shared_with(objects: store.ObjectStore, project: str) -> list[Obj]:
    """Networks other projects shared with ``project`` by RBAC policies."""
    seen: dict[str, Obj] = {}
    for sel in selectors(project):
        for n in (await objects.list(nm.NETWORK, None, label_selector=sel)).items:
            seen.setdefault(n["metadata"]["name"], n)
    return list(seen.values())


def check_request(object_type: Any, action: Any, target: Any) -> None:
    if object_type not in OBJECT_TYPES:
        raise Invalid(f"Invalid input for object_type. Reason: {object_type} is not in "
                      f"{list(OBJECT_TYPES)}.")
    if action not in ACTIONS:
        raise Invalid(f"Invalid input for action. Reason: {action} is not in "
                      f"{list(ACTIONS)}.")
    if not isinstance(target, str) or not target or \
            (target != "*" and not target.replace("-", "").isalnum()) or len(target) > 63:
        raise Invalid(f"Invalid input for target_tenant. Reason: '{target}' is not a "
                      "project id or '*'.")


async def set_label(objects: store.ObjectStore, net: Obj, target: str, on: bool) -> None:
    """Share (``on``) or unshare the network with ``target``; a gone network is fine."""
    def change(o: Obj) -> None:
        labels = o["metadata"].setdefault("labels", {})
        if on:
            labels[label_key(target)] = "true"
        else:
            labels.pop(label_key(target), None)

    try:
        await objects.mutate(nm.NETWORK, net["metadata"]["namespace"], net["metadata"]["name"],
                             change)
    except store.NotFound:
        pass


async def drop_share(objects: store.ObjectStore, policy: Obj, others: list[Obj]) -> None:
    """``policy`` (as it was) no longer grants its target: unlabel the network unless
    another of its policies (``others``) still does."""
    spec = policy["spec"]
    if any(o["spec"]["targetProject"] == spec["targetProject"] for o in others
           if o["metadata"]["name"] != policy["metadata"]["name"]):
        return
    net = {"metadata": {"namespace": policy["metadata"]["namespace"], "name": spec["objectId"]}}
    await set_label(objects, net, spec["targetProject"], False)


async def check_unshare(objects: store.ObjectStore, policy: Obj, others: list[Obj]) -> None:
    """Refuse to drop a share the target project's ports still rely on (``others``: the
    network's remaining policies, which may still grant the same access)."""
    spec = policy["spec"]
    net_id, target = spec["objectId"], spec["targetProject"]
    owner = policy["metadata"]["namespace"]
    still = {o["spec"]["targetProject"] for o in others
             if o["metadata"]["name"] != policy["metadata"]["name"]}
    if "*" in still or target in still:
        return
    ports = (await objects.list(nm.PORT, None,
                                label_selector=f"{nm.NETWORK_LABEL}={net_id}")).items
    for p in ports:
        ns = p["metadata"]["namespace"]
        if ns != owner and (target == "*" or ns == target) and ns not in still:
            raise Conflict(f"RBAC policy on object {net_id} cannot be removed because other "
                           "objects depend on it.", code="RbacPolicyInUse")


async def drop_policies(objects: store.ObjectStore, net_id: str) -> None:
    """A deleted network's policies go with it (Neutron cascades them)."""
    found = await objects.list(nm.RBAC_POLICY, None,
                               label_selector=f"{nm.NETWORK_LABEL}={net_id}")
    for p in found.items:
        try:
            await objects.delete(nm.RBAC_POLICY, p["metadata"]["namespace"],
                                 p["metadata"]["name"])
        except store.NotFound:
            pass
