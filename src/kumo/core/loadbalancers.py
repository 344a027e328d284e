"""Load balancers (Octavia v2) for every caller alike: create with a VIP port, update,
delete (cascade), and the provisioning state machine (children: loadbalancers_tree.py).

A load balancer is one ``LoadBalancer`` object holding its whole tree
(kumo.model.loadbalancer). Octavia's ``provisioning_status`` is derived, never stored:
the object's ``metadata.generation`` moves on every change, the agent of the LB's host
writes ``status.observedGeneration`` once HAProxy serves that generation, so

    PENDING_CREATE  nothing observed yet          PENDING_UPDATE  observed < generation
    ERROR           the agent failed this generation     ACTIVE  observed == generation

and "immutable while PENDING" (409) is checked inside the compare-and-swap that makes
the change, so two racing changes can never both pass it.

    create_lb(objects, actor, LbRequest) -> LoadBalancer
    update_lb(objects, actor, lb, changes) -> LoadBalancer
    delete_lb(objects, actor, lb, cascade)
    change_tree(objects, actor, lb, fn) -> LoadBalancer     CAS + immutability + gens
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kumo import store
from kumo.model import compute as cm
from kumo.model import loadbalancer as lbm

from . import loadbalancer_vip_sg as vip_sg
from . import ports as core_ports
from . import quotas
from .actor import Actor
from .errors import ConcurrentChange, Conflict, Invalid, NotFound
from .port_rules import FixedIp, PortRequest, find_network

Obj = dict[str, Any]
ACTIVE, ERROR = "ACTIVE", "ERROR"
PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE = "PENDING_CREATE", "PENDING_UPDATE", \
    "PENDING_DELETE"


@dataclass
class LbRequest:
    project: str
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    vip_subnet_id: str | None = None
    vip_network_id: str | None = None
    vip_port_id: str | None = None
    vip_address: str | None = None
    flavor_id: str | None = None
    tags: list[str] = field(default_factory=list)
    fill: Callable[[Obj], None] | None = None  # the single-call tree (loadbalancers_tree)


def lb_not_found(lb_id: str) -> NotFound:
    return NotFound(f"Load Balancer {lb_id} could not be found.", code="NotFound",
                    kind=lbm.LOADBALANCER, ident=lb_id)


def immutable(lb_id: str) -> Conflict:
    return Conflict(f"Load Balancer {lb_id} is immutable and cannot be updated.",
                    code="ImmutableObject", kind=lbm.LOADBALANCER, ident=lb_id)


# ---- the state machine, derived --------------------------------------------------------
def provisioning(lb: Obj) -> str:
    md, st = lb["metadata"], lb.get("status") or {}
    if md.get("deletionTimestamp"):
        return PENDING_DELETE
    gen, seen = int(md.get("generation") or 1), st.get("observedGeneration")
    if st.get("error") and st.get("errorGeneration") == gen:
        return ERROR
    if seen is None:
        return PENDING_CREATE
    return PENDING_UPDATE if int(seen) < gen else ACTIVE


def child_provisioning(lb: Obj, child: Obj) -> str:
    """A child is pending from its change until the agent observed that generation."""
    top = provisioning(lb)
    if top in (ERROR, PENDING_DELETE):
        return top
    seen = int((lb.get("status") or {}).get("observedGeneration") or 0)
    if int(child.get("gen") or 1) <= seen:
        return ACTIVE
    return PENDING_CREATE if child.get("cgen") == child.get("gen") else PENDING_UPDATE


def operating(lb: Obj, ident: str, admin_up: bool = True) -> str:
    """What the agent measured (ONLINE/DEGRADED/ERROR/NO_MONITOR/OFFLINE)."""
    if not admin_up or not lb["spec"].get("adminStateUp", True):
        return "OFFLINE"
    return ((lb.get("status") or {}).get("operating") or {}).get(ident, "OFFLINE")


# ---- the one write path --------------------------------------------------------------------
async def change_tree(objects: store.ObjectStore, actor: Actor, lb: Obj,
                      fn: Callable[[Obj, int], Any], rule: str = "update_loadbalancer") -> Obj:
    """Apply ``fn(spec, new_generation)`` under CAS; 409 while the LB is PENDING_*."""
    actor.require_write(rule)
    md = lb["metadata"]

    def apply(obj: Obj) -> Any:
        if provisioning(obj).startswith("PENDING"):
            raise immutable(md["name"])
        return fn(obj["spec"], int(obj["metadata"].get("generation") or 1) + 1)

    try:
        return await objects.mutate(lbm.LOADBALANCER, md["namespace"], md["name"], apply)
    except store.NotFound:
        raise lb_not_found(md["name"]) from None
    except store.Conflict:
        raise ConcurrentChange(f"Load Balancer {md['name']} is being changed concurrently; "
                               "try again.", kind=lbm.LOADBALANCER, ident=md["name"]) from None


# ---- create ------------------------------------------------------------------------------
async def _vip_network(objects: store.ObjectStore, actor: Actor, req: LbRequest) -> str:
    if req.vip_subnet_id:
        found = await objects.list("Subnet", None)
        sub = next((s for s in found.items if s["metadata"]["name"] == req.vip_subnet_id),
                   None)
        if sub is not None:  # a subnet of a network the caller may use
            await find_network(objects, actor, sub["spec"]["networkId"])
        else:
            raise Invalid(f"Subnet {req.vip_subnet_id} not found.", code="InvalidSubnet")
        if req.vip_network_id and sub["spec"]["networkId"] != req.vip_network_id:
            raise Invalid("vip_subnet_id is not on vip_network_id.", code="Invalid")
        return str(sub["spec"]["networkId"])
    assert req.vip_network_id
    net = await find_network(objects, actor, req.vip_network_id)
    return str(net["metadata"]["name"])


async def _vip_port(objects: store.ObjectStore, actor: Actor, req: LbRequest,
                    lb_id: str) -> tuple[Obj, bool]:
    """(the VIP port, made by us): a tenant's port is claimed, else one is made."""
    if req.vip_port_id:
        port = await core_ports.port_by_id(objects, req.vip_port_id, req.project)
        if port is None or not actor.sees(port["metadata"]["namespace"]):
            raise Invalid(f"Port {req.vip_port_id} not found.", code="InvalidPort")
        port = await core_ports.claim(objects, port, lbm.vip_device_id(lb_id), lbm.VIP_OWNER)
        return port, False
    net_id = await _vip_network(objects, actor, req)
    fixed = None
    if req.vip_subnet_id or req.vip_address:
        fixed = [FixedIp(req.vip_subnet_id, req.vip_address)]
    gid = await vip_sg.ensure_group(objects, req.project, lb_id)  # rules: the scheduler
    port_req = PortRequest(network_id=net_id, project=req.project, name=f"octavia-lb-{lb_id}",
                           device_owner=lbm.VIP_OWNER, device_id=lbm.vip_device_id(lb_id),
                           fixed_ips=fixed, security_groups=[gid], port_security_enabled=True)
    return await core_ports.create_port(objects, Actor.kumo(req.project), port_req), True


async def _claim(objects: store.ObjectStore, actor: Actor, project: str, lb_id: str) -> None:
    limits = None
    if not actor.system:
        found = await objects.try_get(cm.QUOTA_SET, project, lbm.QUOTA_NAME)
        limits = {"load_balancer": int(((found or {}).get("spec") or {}).get(
            "load_balancer", lbm.QUOTA_DEFAULTS["load_balancer"]))}
    await quotas.claim(objects, project, lbm.QUOTA_SERVICE, {lb_id: {"load_balancer": 1}},
                       limits)


async def create_lb(objects: store.ObjectStore, actor: Actor, req: LbRequest) -> Obj:
    """Count, make (or claim) the VIP port, write the LB: all or nothing."""
    actor.require_write("create_loadbalancer")
    if not (req.vip_subnet_id or req.vip_network_id or req.vip_port_id):
        raise Invalid("Validation failure: VIP must contain one of: vip_port_id, "
                      "vip_network_id, vip_subnet_id.", code="InvalidOption")
    lb_id = str(uuid.uuid4())
    await _claim(objects, actor, req.project, lb_id)
    port: Obj | None = None
    owned = False
    try:
        port, owned = await _vip_port(objects, actor, req, lb_id)
        fixed = (port["spec"].get("fixedIps") or [{}])[0]
        spec: Obj = {"name": req.name, "description": req.description,
                     "adminStateUp": req.admin_state_up, "tags": req.tags,
                     "vipPortId": port["metadata"]["name"], "vipPortOwned": owned,
                     "vipAddress": fixed.get("ipAddress", ""),
                     "vipSubnetId": fixed.get("subnetId", ""),
                     "vipNetworkId": port["spec"]["networkId"], "provider": lbm.PROVIDER,
                     "flavorId": req.flavor_id, "listeners": [], "pools": []}
        if req.fill is not None:
            req.fill(spec)
        return await objects.create({
            "apiVersion": "kumo.io/v1", "kind": lbm.LOADBALANCER,
            "metadata": {"name": lb_id, "namespace": req.project, "labels": {}},
            "spec": spec, "status": {}})
    except BaseException:
        if port is not None:
            await _drop_vip(objects, port, owned)
        await vip_sg.drop(objects, req.project, lb_id)
        await quotas.release(objects, req.project, lbm.QUOTA_SERVICE, [lb_id])
        raise


async def _drop_vip(objects: store.ObjectStore, port: Obj, owned: bool) -> None:
    if owned:
        await core_ports.delete_port(objects, port)
    else:
        await core_ports.release(objects, port)


# ---- update, delete -------------------------------------------------------------------------
async def update_lb(objects: store.ObjectStore, actor: Actor, lb: Obj, changes: Obj) -> Obj:
    """name, description, adminStateUp, tags: a new generation the agent applies."""
    return await change_tree(objects, actor, lb, lambda spec, gen: spec.update(changes))


async def delete_lb(objects: store.ObjectStore, actor: Actor, lb: Obj, cascade: bool) -> None:
    """Without ``cascade`` only a childless LB goes (Octavia's 400); the VIP port and the
    quota claim go with it; the agent removes the namespace it no longer wants."""
    actor.require_write("delete_loadbalancer")
    md = lb["metadata"]
    for _ in range(20):  # the agent's status writes move the resourceVersion: re-read
        spec = lb["spec"]
        if provisioning(lb).startswith("PENDING"):
            raise immutable(md["name"])
        if not cascade and (spec.get("listeners") or spec.get("pools")):
            raise Invalid(f"Cannot delete Load Balancer {md['name']} - it has children",
                          code="ValidationException")
        try:
            await objects.delete(lbm.LOADBALANCER, md["namespace"], md["name"],
                                 expected_rv=int(lb["metadata"]["resourceVersion"]))
            break
        except store.NotFound:
            raise lb_not_found(md["name"]) from None
        except store.Conflict:
            fresh = await objects.try_get(lbm.LOADBALANCER, md["namespace"], md["name"])
            if fresh is None:
                raise lb_not_found(md["name"]) from None
            lb = fresh
    else:
        raise ConcurrentChange(f"Load Balancer {md['name']} keeps changing; try again.",
                               kind=lbm.LOADBALANCER, ident=md["name"])
    port = await objects.try_get("Port", md["namespace"], spec.get("vipPortId") or "-")
    if port is not None:
        await _drop_vip(objects, port, bool(spec.get("vipPortOwned", True)))
    await vip_sg.drop(objects, md["namespace"], md["name"])
    await quotas.release(objects, md["namespace"], lbm.QUOTA_SERVICE, [md["name"]])
