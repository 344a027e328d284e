"""Octavia's single-call create: ``POST /v2/lbaas/loadbalancers`` with ``listeners``
(each with an optional ``default_pool`` and ``l7policies``, a policy with an optional
``redirect_pool``) and ``pools`` (each with ``members`` and a ``healthmonitor``).

The body is parsed into a flat list of (kind, child, parent id) with ids chosen here,
parents before children; kumo.core.loadbalancers_tree.graft applies the same rules as
the one-at-a-time routes to the new LB's spec, so the tree is written in the LB's first
generation and goes ACTIVE with it."""

from __future__ import annotations

import uuid
from typing import Any

from kumo.core import loadbalancers_tree as tree

from .errors import bad
from .l7policies import POLICY_CREATE, new_policy
from .listeners import L_CREATE, POOL_CREATE, new_listener, new_pool
from .members import HM_CREATE, MEMBER_CREATE, new_member, new_monitor

Obj = dict[str, Any]
Op = tuple[str, Obj, str | None]


def _obj(what: str, data: Any, allowed: set[str]) -> Obj:
    if not isinstance(data, dict):
        raise bad(f"Invalid input for field/attribute {what}. Value: '{data}'.")
    extra = sorted(set(data) - allowed - {"default_pool", "redirect_pool"})
    if extra:
        raise bad(f"Unknown attribute for argument {what}: {', '.join(extra)}")
    return data


def _list(what: str, data: Any) -> list[Any]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise bad(f"Invalid input for field/attribute {what}. Value: '{data}'.")
    return data


def _pool(data: Any, listener_id: str | None, ops: list[Op]) -> str:
    raw = _obj("pool", data, POOL_CREATE - {"loadbalancer_id", "listener_id"})
    pid = str(uuid.uuid4())
    ops.append((tree.POOL, {**new_pool(raw), "id": pid, "listenerId": listener_id}, None))
    for m in _list("members", raw.get("members")):
        ops.append((tree.MEMBER, {**new_member(_obj("member", m, MEMBER_CREATE)),
                                  "id": str(uuid.uuid4())}, pid))
    if raw.get("healthmonitor") is not None:
        hm = _obj("healthmonitor", raw["healthmonitor"], HM_CREATE - {"pool_id"})
        ops.append((tree.MONITOR, {**new_monitor(hm), "id": str(uuid.uuid4())}, pid))
    return pid


def _listener(data: Any, ops: list[Op]) -> None:
    raw = _obj("listener", data, L_CREATE - {"loadbalancer_id", "default_pool_id"})
    lid = str(uuid.uuid4())
    ops.append((tree.LISTENER, {**new_listener(raw), "id": lid}, None))
    if raw.get("default_pool") is not None:
        _pool(raw["default_pool"], lid, ops)
    for policy in _list("l7policies", raw.get("l7policies")):
        p = dict(_obj("l7policy", policy, POLICY_CREATE - {"listener_id"}))
        if p.get("redirect_pool") is not None:
            p["redirect_pool_id"] = _pool(p.pop("redirect_pool"), None, ops)
        ops.append((tree.L7POLICY, {**new_policy(p), "id": str(uuid.uuid4())}, lid))


def parse(data: Obj) -> list[Op]:
    """The flat, ordered operations of a single-call create (empty: none asked)."""
    ops: list[Op] = []
    for listener in _list("listeners", data.get("listeners")):
        _listener(listener, ops)
    for pool in _list("pools", data.get("pools")):
        _pool(pool, None, ops)
    return ops
