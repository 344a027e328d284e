"""A load balancer's children (listeners, pools, members, health monitors): Octavia's
rules for each, applied in one compare-and-swap on the LB (core/loadbalancers.py).

Each child carries ``gen`` (the LB generation that last changed it) and ``cgen`` (the one
that made it): its provisioning_status is derived from them. Children are found by id
across the caller's load balancers (``find``); the tree is small, so a walk is cheap.

    find(objects, actor, what, ident) -> (lb, child)
    add(objects, actor, lb, what, child, parent_id) -> (lb, child)   (L7: parent listener
                                                                    or policy id)
    change(objects, actor, lb, what, ident, fields) -> (lb, child)
    remove(objects, actor, lb, what, ident) -> lb
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from kumo import store
from kumo.model import loadbalancer as lbm

from .actor import Actor
from .errors import Conflict, Invalid, NotFound
from .loadbalancers import change_tree

Obj = dict[str, Any]
LISTENER, POOL, MEMBER, MONITOR = "listener", "pool", "member", "healthmonitor"
L7POLICY, L7RULE = "l7policy", "l7rule"
TITLES = {LISTENER: "Listener", POOL: "Pool", MEMBER: "Member", MONITOR: "Health Monitor",
          L7POLICY: "L7 Policy", L7RULE: "L7 Rule"}
LISTENER_POOLS = {"TCP": {"TCP", "HTTP", "HTTPS", "PROXY"}, "HTTP": {"HTTP", "PROXY"},
                  "HTTPS": {"HTTPS", "PROXY", "TCP"}, "UDP": {"UDP"}}


def not_found(what: str, ident: str) -> NotFound:
    return NotFound(f"{TITLES[what]} {ident} could not be found.", code="NotFound",
                    kind=what, ident=ident)


def walk(spec: Obj) -> Iterator[tuple[str, Obj, Obj | None]]:
    """(what, child, parent) for every child of the tree: a member's or monitor's pool,
    a policy's listener, a rule's policy."""
    for listener in spec.get("listeners") or []:
        yield LISTENER, listener, None
        for policy in listener.get("l7policies") or []:
            yield L7POLICY, policy, listener
            for rule in policy.get("rules") or []:
                yield L7RULE, rule, policy
    for pool in spec.get("pools") or []:
        yield POOL, pool, None
        for member in pool.get("members") or []:
            yield MEMBER, member, pool
        if pool.get("healthMonitor"):
            yield MONITOR, pool["healthMonitor"], pool


def locate(spec: Obj, what: str, ident: str) -> tuple[Obj, Obj | None] | None:
    for w, child, parent in walk(spec):
        if w == what and child["id"] == ident:
            return child, parent
    return None


async def find(objects: store.ObjectStore, actor: Actor, what: str, ident: str
               ) -> tuple[Obj, Obj]:
    """The LB holding child ``ident`` and the child, among those the actor sees."""
    found = await objects.list(lbm.LOADBALANCER, None if actor.is_admin else actor.project_id)
    for lb in found.items:
        hit = locate(lb["spec"], what, ident)
        if hit is not None:
            return lb, hit[0]
    raise not_found(what, ident)


def pool_of(spec: Obj, pool_id: str) -> Obj:
    hit = locate(spec, POOL, pool_id)
    if hit is None:
        raise not_found(POOL, pool_id)
    return hit[0]


def _check_listener(spec: Obj, new: Obj, ident: str | None) -> None:
    for other in spec.get("listeners") or []:
        if other["id"] != ident and other["protocolPort"] == new["protocolPort"] and \
                (other["protocol"] == "UDP") == (new["protocol"] == "UDP"):
            raise Conflict(f"Another Listener on this Load Balancer is already using "
                           f"protocol_port {new['protocolPort']}", code="DuplicateListenerEntry")
    pool_id = new.get("defaultPoolId")
    if pool_id:
        pool = pool_of(spec, pool_id)
        if pool["protocol"] not in LISTENER_POOLS.get(new["protocol"], set()):
            raise Invalid(f"The pool protocol '{pool['protocol']}' is invalid while the "
                          f"listener protocol is '{new['protocol']}'.", code="ValidationException")


def _check_pool(spec: Obj, new: Obj) -> None:
    lid = new.get("listenerId")
    if not lid:
        return
    hit = locate(spec, LISTENER, lid)
    if hit is None:
        raise not_found(LISTENER, lid)
    listener = hit[0]
    if listener.get("defaultPoolId") and listener["defaultPoolId"] != new["id"]:
        raise Conflict(f"Listener {lid} already has a default pool", code="DuplicatePoolEntry")
    if new["protocol"] not in LISTENER_POOLS.get(listener["protocol"], set()):
        raise Invalid(f"The pool protocol '{new['protocol']}' is invalid while the listener "
                      f"protocol is '{listener['protocol']}'.", code="ValidationException")
    listener["defaultPoolId"] = new["id"]


def _check_member(pool: Obj, new: Obj) -> None:
    for m in pool.get("members") or []:
        if m["id"] != new["id"] and m["address"] == new["address"] and \
                m["protocolPort"] == new["protocolPort"]:
            raise Conflict(f"Another member on this pool is already using ip "
                           f"{new['address']} on protocol_port {new['protocolPort']}",
                           code="DuplicateMemberEntry")


def parent_of(spec: Obj, what: str, ident: str) -> Obj:
    hit = locate(spec, what, ident)
    if hit is None:
        raise not_found(what, ident)
    return hit[0]


def _check_policy(spec: Obj, listener: Obj, new: Obj) -> None:
    """Octavia's rules: L7 on HTTP listeners; a redirect pool of this LB, HTTP-capable."""
    if listener["protocol"] != "HTTP":
        raise Invalid(f"L7 policies are not supported on {listener['protocol']} listeners.",
                      code="ValidationException")
    if new["action"] == "REDIRECT_TO_POOL":
        pool = pool_of(spec, str(new.get("redirectPoolId")))
        if pool["protocol"] not in LISTENER_POOLS["HTTP"]:
            raise Invalid(f"The pool protocol '{pool['protocol']}' is invalid while the "
                          "listener protocol is 'HTTP'.", code="ValidationException")


def place_policy(listener: Obj, policy: Obj, position: int | None) -> None:
    """Octavia's positions: 1-based, the rest move down; past the end means last."""
    rest = [p for p in listener.get("l7policies") or [] if p["id"] != policy["id"]]
    at = len(rest) if position is None else max(0, min(position - 1, len(rest)))
    listener["l7policies"] = [*rest[:at], policy, *rest[at:]]


def _insert(spec: Obj, what: str, child: Obj, parent_id: str | None) -> None:
    if what == L7POLICY:
        listener = parent_of(spec, LISTENER, str(parent_id))
        _check_policy(spec, listener, child)
        for rule in child.get("rules") or []:  # rules given with the policy (one POST)
            rule.update(id=rule.get("id") or str(uuid.uuid4()), gen=child["gen"],
                        cgen=child["gen"])
        place_policy(listener, child, child.pop("position", None))
    elif what == L7RULE:
        parent_of(spec, L7POLICY, str(parent_id)).setdefault("rules", []).append(child)
    elif what == LISTENER:
        _check_listener(spec, child, None)
        spec.setdefault("listeners", []).append(child)
    elif what == POOL:
        _check_pool(spec, child)
        spec.setdefault("pools", []).append(child)
    elif what == MEMBER:
        pool = pool_of(spec, str(parent_id))
        _check_member(pool, child)
        pool.setdefault("members", []).append(child)
    else:
        pool = pool_of(spec, str(parent_id))
        if pool.get("healthMonitor"):
            raise Conflict(f"Pool {parent_id} already has a health monitor",
                           code="DuplicateHealthMonitor")
        pool["healthMonitor"] = child


def graft(spec: Obj, ops: list[tuple[str, Obj, str | None]], gen: int = 1) -> None:
    """Octavia's single-call create: children (ids chosen by the caller, parents before
    their children) put into a new LB's spec under the same rules as one at a time."""
    for what, child, parent_id in ops:
        _insert(spec, what, {**child, "gen": gen, "cgen": gen}, parent_id)


async def add(objects: store.ObjectStore, actor: Actor, lb: Obj, what: str, child: Obj,
              parent_id: str | None = None) -> tuple[Obj, Obj]:
    child = {**child, "id": child.get("id") or str(uuid.uuid4())}

    def fn(spec: Obj, gen: int) -> None:
        child["gen"] = child["cgen"] = gen
        _insert(spec, what, dict(child), parent_id)

    out = await change_tree(objects, actor, lb, fn, f"create_{what}")
    hit = locate(out["spec"], what, child["id"])
    assert hit is not None
    return out, hit[0]


async def change(objects: store.ObjectStore, actor: Actor, lb: Obj, what: str, ident: str,
                 fields: Obj) -> tuple[Obj, Obj]:
    def fn(spec: Obj, gen: int) -> None:
        hit = locate(spec, what, ident)
        if hit is None:
            raise not_found(what, ident)
        child, parent = hit
        merged = {**child, **fields}
        plain = {k: v for k, v in fields.items() if k != "position"}
        if what == LISTENER:
            _check_listener(spec, merged, ident)
        elif what == MEMBER:
            assert parent is not None
            _check_member(parent, merged)
        elif what == L7POLICY:
            assert parent is not None
            _check_policy(spec, parent, merged)
            if "position" in fields:
                place_policy(parent, child, fields["position"])
        child.update(plain)
        child["gen"] = gen

    out = await change_tree(objects, actor, lb, fn, f"update_{what}")
    hit = locate(out["spec"], what, ident)
    assert hit is not None
    return out, hit[0]


def _drop(spec: Obj, what: str, ident: str) -> None:
    if what in (L7POLICY, L7RULE):
        hit = locate(spec, what, ident)
        assert hit is not None and hit[1] is not None
        key = "l7policies" if what == L7POLICY else "rules"
        hit[1][key] = [x for x in hit[1].get(key) or [] if x["id"] != ident]
    elif what == LISTENER:
        spec["listeners"] = [x for x in spec.get("listeners") or [] if x["id"] != ident]
        for pool in spec.get("pools") or []:
            if pool.get("listenerId") == ident:
                pool["listenerId"] = None
    elif what == POOL:
        for _, policy, _l in (w for w in walk(spec) if w[0] == L7POLICY):
            if policy.get("redirectPoolId") == ident:
                raise Conflict(f"Pool {ident} is in use by L7 policy {policy['id']}",
                               code="ValidationException", kind=POOL, ident=ident)
        spec["pools"] = [x for x in spec.get("pools") or [] if x["id"] != ident]
        for listener in spec.get("listeners") or []:
            if listener.get("defaultPoolId") == ident:
                listener["defaultPoolId"] = None
    else:
        for pool in spec.get("pools") or []:
            if what == MEMBER:
                pool["members"] = [m for m in pool.get("members") or [] if m["id"] != ident]
            elif (pool.get("healthMonitor") or {}).get("id") == ident:
                pool["healthMonitor"] = None


async def remove(objects: store.ObjectStore, actor: Actor, lb: Obj, what: str,
                 ident: str) -> Obj:
    def fn(spec: Obj, gen: int) -> None:
        if locate(spec, what, ident) is None:
            raise not_found(what, ident)
        _drop(spec, what, ident)

    return await change_tree(objects, actor, lb, fn, f"delete_{what}")


async def replace_members(objects: store.ObjectStore, actor: Actor, lb: Obj, pool_id: str,
                          members: list[Obj]) -> Obj:
    """Batch member update (PUT .../members): the pool's members become ``members``;
    ones matching an existing (address, port) keep their id."""
    def fn(spec: Obj, gen: int) -> None:
        pool = pool_of(spec, pool_id)
        old = {(m["address"], m["protocolPort"]): m for m in pool.get("members") or []}
        out = []
        for new in members:
            kept = old.get((new["address"], new["protocolPort"]))
            if kept is not None:
                changed = {k: v for k, v in new.items() if kept.get(k) != v}
                if changed:
                    kept.update(changed, gen=gen)
                out.append(kept)
            else:
                out.append({**new, "id": str(uuid.uuid4()), "gen": gen, "cgen": gen})
        pool["members"] = out

    return await change_tree(objects, actor, lb, fn, "update_member")
