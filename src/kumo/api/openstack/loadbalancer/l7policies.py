"""/v2/lbaas/l7policies and /v2/lbaas/l7policies/{id}/rules: parse, call
kumo.core.loadbalancers_tree (policies live in their listener, rules in their policy),
render."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.common.clock import now_seconds_iso
from kumo.core import loadbalancers_tree as tree
from kumo.model import loadbalancer as lbm

from ...runtime import runtime
from . import views
from .common import (
    actor,
    body,
    common_fields,
    filtered,
    find_child,
    to_bool,
    to_enum,
    to_int,
    to_str,
    unsupported,
    visible_lbs,
)
from .errors import bad, invalid

Obj = dict[str, Any]
_P_UPDATE = {"name", "description", "admin_state_up", "tags", "action", "position",
             "redirect_pool_id", "redirect_url", "redirect_prefix", "redirect_http_code"}
POLICY_CREATE = _P_UPDATE | {"listener_id", "project_id", "tenant_id", "rules"}
_R_UPDATE = {"admin_state_up", "tags", "type", "compare_type", "key", "value", "invert"}
_R_CREATE = _R_UPDATE | {"project_id", "tenant_id"}
_TARGET = {"REDIRECT_TO_POOL": "redirect_pool_id", "REDIRECT_TO_URL": "redirect_url",
           "REDIRECT_PREFIX": "redirect_prefix"}


def _policy_fields(data: Obj, old: Obj | None = None) -> Obj:
    """Fields in kumo's spelling; the action's target is required, the others cleared."""
    out = common_fields(data)
    if "position" in data:
        out["position"] = to_int("position", data["position"], 1, 2**31 - 1)
    act = to_enum("action", data.get("action", (old or {}).get("action")), lbm.L7_ACTIONS)
    out["action"] = act
    merged = {"redirect_pool_id": (old or {}).get("redirectPoolId"),
              "redirect_url": (old or {}).get("redirectUrl"),
              "redirect_prefix": (old or {}).get("redirectPrefix"),
              "redirect_http_code": (old or {}).get("redirectHttpCode"), **data}
    need = _TARGET.get(act)
    if need and not merged.get(need):
        raise bad(f"Validation failure: An l7policy with action {act} requires {need}.")
    for key in _TARGET.values():
        if key != need:
            merged[key] = None
    for key in ("redirect_url", "redirect_prefix"):
        if merged[key] is not None and not re.match(lbm.L7_URL, str(merged[key])):
            raise invalid(key, merged[key], "Value should be a valid URL")
    code = merged.get("redirect_http_code")
    if act in ("REDIRECT_TO_URL", "REDIRECT_PREFIX"):
        code = 302 if code is None else to_enum("redirect_http_code", code,
                                               lbm.L7_REDIRECT_CODES)
    else:
        code = None
    out.update(redirectPoolId=merged["redirect_pool_id"], redirectUrl=merged["redirect_url"],
               redirectPrefix=merged["redirect_prefix"],
               redirectHttpCode=int(code) if code is not None else None)
    return out


def _rule_fields(data: Obj, old: Obj | None = None) -> Obj:
    """A whole rule, checked as Octavia does (key for HEADER/COOKIE; value grammar)."""
    out = common_fields(data)
    out.pop("name", None)
    merged = {"type": (old or {}).get("type"), "compare_type": (old or {}).get("compareType"),
              "key": (old or {}).get("key"), "value": (old or {}).get("value"),
              "invert": (old or {}).get("invert", False), **data}
    if merged["type"] in lbm.L7_UNSUPPORTED_TYPES:
        raise unsupported("l7rule type", merged["type"])
    kind = to_enum("type", merged["type"], lbm.L7_RULE_TYPES)
    compare = to_enum("compare_type", merged["compare_type"], lbm.L7_COMPARE)
    value = to_str("value", merged["value"])
    if not re.match(lbm.L7_VALUE, value):
        raise invalid("value", value, "Value must be printable without spaces or quotes")
    if compare == "REGEX":
        try:
            re.compile(value)
        except re.error:
            raise invalid("value", value, "Invalid regex") from None
    key = merged["key"] if kind in ("HEADER", "COOKIE") else None
    if kind in ("HEADER", "COOKIE") and not re.match(lbm.L7_TOKEN, str(key or "")):
        raise bad(f"Validation failure: L7 rule type {kind} requires a key.")
    out.update(type=kind, compareType=compare, value=value, key=key,
               invert=to_bool("invert", merged["invert"]))
    return out


def _listener_of(lb: Obj, policy_id: str) -> Obj:
    hit = tree.locate(lb["spec"], tree.L7POLICY, policy_id)
    assert hit is not None and hit[1] is not None
    return hit[1]


# ---- policies ----------------------------------------------------------------------------
async def policy_index(request: Request) -> Response:
    a = await actor(request)
    out = [views.l7policy_view(lb, x, p) for lb in await visible_lbs(request, a)
           for x in lb["spec"].get("listeners") or [] for p in x.get("l7policies") or []]
    return JSONResponse({"l7policies": filtered(request, out), "l7policies_links": []})


async def policy_show(request: Request) -> Response:
    _, lb, p = await find_child(request, tree.L7POLICY, "l7policy_id")
    return JSONResponse({"l7policy": views.l7policy_view(lb, _listener_of(lb, p["id"]), p)})


def new_policy(data: Obj) -> Obj:
    """A policy with its rules from Octavia's fields (also the single-call tree's)."""
    now = now_seconds_iso()
    rules = [{"adminStateUp": True, **_rule_fields(r), "id": None, "createdAt": now,
              "updatedAt": None} for r in _rule_list(data.get("rules"))]
    return {"name": "", "description": "", "adminStateUp": True, "createdAt": now,
            **_policy_fields(data), "updatedAt": None, "rules": rules}


async def policy_create(request: Request) -> Response:
    a = await actor(request)
    data = await body(request, "l7policy", POLICY_CREATE)
    if not data.get("listener_id"):
        raise bad("Missing mandatory field/attribute listener_id.")
    lb, _ = await tree.find(runtime(request).objects, a, tree.LISTENER,
                            str(data["listener_id"]))
    child = new_policy(data)
    lb, p = await tree.add(runtime(request).objects, a, lb, tree.L7POLICY, child,
                           str(data["listener_id"]))
    view = views.l7policy_view(lb, _listener_of(lb, p["id"]), p)
    return JSONResponse({"l7policy": view}, status_code=201)


def _rule_list(rules: Any) -> list[Obj]:
    if rules is None:
        return []
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise invalid("rules", rules)
    extra = {k for r in rules for k in r} - _R_CREATE
    if extra:
        raise bad(f"Unknown attribute for argument rules: {', '.join(sorted(extra))}")
    return rules


async def policy_update(request: Request) -> Response:
    a, lb, p = await find_child(request, tree.L7POLICY, "l7policy_id")
    data = await body(request, "l7policy", _P_UPDATE)
    lb, p = await tree.change(runtime(request).objects, a, lb, tree.L7POLICY, p["id"],
                              _policy_fields(data, p))
    return JSONResponse({"l7policy": views.l7policy_view(lb, _listener_of(lb, p["id"]), p)})


async def policy_delete(request: Request) -> Response:
    a, lb, p = await find_child(request, tree.L7POLICY, "l7policy_id")
    await tree.remove(runtime(request).objects, a, lb, tree.L7POLICY, p["id"])
    return Response(status_code=204)


# ---- rules -------------------------------------------------------------------------------
def _rule(policy: Obj, rule_id: str) -> Obj:
    r = next((r for r in policy.get("rules") or [] if r["id"] == rule_id), None)
    if r is None:
        raise tree.not_found(tree.L7RULE, rule_id)
    return r


async def rule_index(request: Request) -> Response:
    _, lb, p = await find_child(request, tree.L7POLICY, "l7policy_id")
    out = [views.l7rule_view(lb, r) for r in p.get("rules") or []]
    return JSONResponse({"rules": filtered(request, out), "rules_links": []})


async def rule_show(request: Request) -> Response:
    _, lb, p = await find_child(request, tree.L7POLICY, "l7policy_id")
    return JSONResponse({"rule": views.l7rule_view(
        lb, _rule(p, request.path_params["l7rule_id"]))})


async def rule_create(request: Request) -> Response:
    a, lb, p = await find_child(request, tree.L7POLICY, "l7policy_id")
    data = await body(request, "rule", _R_CREATE)
    child = {"adminStateUp": True, "createdAt": now_seconds_iso(), **_rule_fields(data),
             "updatedAt": None}
    lb, r = await tree.add(runtime(request).objects, a, lb, tree.L7RULE, child, p["id"])
    return JSONResponse({"rule": views.l7rule_view(lb, r)}, status_code=201)


async def rule_update(request: Request) -> Response:
    a, lb, p = await find_child(request, tree.L7POLICY, "l7policy_id")
    r = _rule(p, request.path_params["l7rule_id"])
    data = await body(request, "rule", _R_UPDATE)
    lb, r = await tree.change(runtime(request).objects, a, lb, tree.L7RULE, r["id"],
                              _rule_fields(data, r))
    return JSONResponse({"rule": views.l7rule_view(lb, r)})


async def rule_delete(request: Request) -> Response:
    a, lb, p = await find_child(request, tree.L7POLICY, "l7policy_id")
    r = _rule(p, request.path_params["l7rule_id"])
    await tree.remove(runtime(request).objects, a, lb, tree.L7RULE, r["id"])
    return Response(status_code=204)
