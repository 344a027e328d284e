"""What every Octavia handler shares: the caller, bodies, value converters and lookups."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

from kumo.common.clock import now_seconds_iso
from kumo.core import loadbalancers as core_lbs
from kumo.core import loadbalancers_tree as tree
from kumo.core.actor import Actor
from kumo.core.errors import Forbidden
from kumo.model import loadbalancer as lbm

from ...auth import authenticate
from ...common import actor_of, read_json
from ...runtime import runtime
from .errors import bad, invalid

Obj = dict[str, Any]


async def actor(request: Request) -> Actor:
    ctx = await authenticate(request)
    if ctx.project_id is None:
        raise Forbidden("a project-scoped token is required", rule="project_scope")
    return actor_of(ctx)


async def body(request: Request, resource: str, allowed: Iterable[str]) -> Obj:
    data = await read_json(request)  # its 400 renders as Octavia's (octavia_body)
    inner = data.get(resource)
    if not isinstance(inner, dict):
        raise bad(f"Invalid input: the body must hold an object '{resource}'.")
    extra = sorted(set(inner) - set(allowed))
    if extra:
        raise bad(f"Invalid input for field/attribute {resource}. Value: '{inner}'. "
                  f"Unknown attribute for argument {resource}: {', '.join(extra)}")
    return inner


def project_of(a: Actor, data: Obj) -> str:
    pid = data.get("project_id") or data.get("tenant_id")
    if pid in (None, a.project_id):
        return str(a.project_id)
    if not a.is_admin:
        raise Forbidden("Policy does not allow this request to be performed.",
                        rule="project_id")
    return str(pid)


def unsupported(what: str, value: str) -> Exception:
    return bad(f"Provider 'kumo' does not support a requested option: {what} {value}")


def named_fields(data: Obj) -> Obj:
    """name, description, admin_state_up and tags, as the spec holds them."""
    out: Obj = {}
    for key in ("name", "description"):
        if key in data:
            out[key] = to_str(key, data[key])
    if "admin_state_up" in data:
        out["adminStateUp"] = to_bool("admin_state_up", data["admin_state_up"])
    if "tags" in data:
        out["tags"] = to_tags(data["tags"])
    return out


def common_fields(data: Obj) -> Obj:
    """A child's ``named_fields``, stamped with the time of the change."""
    return {"updatedAt": now_seconds_iso(), **named_fields(data)}


def to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise invalid(name, value, "Value should be boolean")


def to_str(name: str, value: Any, max_len: int = 255) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_len:
        raise invalid(name, value)
    return value


def to_int(name: str, value: Any, lo: int, hi: int) -> int:
    """An integer (wsme, as Octavia, takes "1000" for 1000) within [lo, hi]."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise invalid(name, value, f"Value should be between {lo} and {hi}")
    return value


def to_enum(name: str, value: Any, allowed: Iterable[str]) -> str:
    if value not in set(allowed):
        raise invalid(name, value, f"Value should be one of: {', '.join(sorted(allowed))}")
    return str(value)


def to_ip(name: str, value: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except (ValueError, TypeError) as exc:
        raise invalid(name, value, "Value should be IPv4 format") from exc


def to_tags(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise invalid("tags", value)
    return list(dict.fromkeys(value))


async def find_lb(request: Request, a: Actor, lb_id: str) -> Obj:
    """A load balancer the caller sees (admins: any), or Octavia's 404."""
    objects = runtime(request).objects
    lb = await objects.try_get(lbm.LOADBALANCER, str(a.project_id), lb_id)
    if lb is None and a.is_admin:
        lb = next((x for x in (await objects.list(lbm.LOADBALANCER, None)).items
                   if x["metadata"]["name"] == lb_id), None)
    if lb is None:
        raise core_lbs.lb_not_found(lb_id)
    return lb


async def find_child(request: Request, what: str, param: str) -> tuple[Actor, Obj, Obj]:
    """The caller, and the load balancer holding the ``what`` named by path ``param``."""
    a = await actor(request)
    lb, child = await tree.find(runtime(request).objects, a, what, request.path_params[param])
    return a, lb, child


async def visible_lbs(request: Request, a: Actor) -> list[Obj]:
    objects = runtime(request).objects
    found = await objects.list(lbm.LOADBALANCER, None if a.is_admin else a.project_id)
    return sorted(found.items, key=lambda x: (x["metadata"].get("creationTimestamp", ""),
                                              x["metadata"]["name"]))


def filtered(request: Request, views: list[Obj]) -> list[Obj]:
    """Octavia's list filters: any query key naming a field keeps the matching views."""
    out = views
    for key, want in request.query_params.items():
        if key in ("limit", "marker", "page_reverse", "sort", "fields", "sort_key",
                   "sort_dir"):
            continue
        out = [v for v in out if key not in v or str(v[key]).lower() == want.lower()]
    fields = request.query_params.getlist("fields")
    if fields:
        out = [{k: v for k, v in view.items() if k in fields or k == "id"} for view in out]
    return out
