"""What every Neutron handler shares: the caller, Neutron's errors, request bodies,
value converters, lookups across projects, list queries and quota checks.

Errors are ``ApiError`` with ``reason`` set to Neutron's exception type; network.py
renders them as ``{"NeutronError": {"type", "message", "detail"}}``.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from kumo import store
from kumo.model import compute as cm
from kumo.model import network as nm

from ...auth import AuthContext, authenticate
from ...common import read_json
from ...errors import ApiError
from ...runtime import Runtime

Obj = dict[str, Any]
CAS_ATTEMPTS = 20
ANN_UPDATED = "network.kumo.io/updated-at"
QUOTA_NAME = "network"
QUOTA_DEFAULTS: dict[str, int] = {
    "network": 100, "subnet": 100, "port": 500, "security_group": 10,
    "security_group_rule": 100, "router": 10, "floatingip": 50,
}
QUOTA_KINDS = {"network": nm.NETWORK, "subnet": nm.SUBNET, "port": nm.PORT,
               "security_group": nm.SECURITY_GROUP,
               "security_group_rule": nm.SECURITY_GROUP_RULE}
MAX_TAG_LEN = 60
NOT_FOUND_TYPES = {nm.NETWORK: ("NetworkNotFound", "Network {} could not be found."),
                   nm.SUBNET: ("SubnetNotFound", "Subnet {} could not be found."),
                   nm.PORT: ("PortNotFound", "Port {} could not be found."),
                   nm.SECURITY_GROUP: ("SecurityGroupNotFound",
                                       "Security group {} does not exist"),
                   nm.SECURITY_GROUP_RULE: ("SecurityGroupRuleNotFound",
                                            "Security group rule {} does not exist")}


# ---- errors -------------------------------------------------------------------
def err(status: int, kind: str, message: str) -> ApiError:
    return ApiError(status, message, reason=kind)


def bad_request(message: str) -> ApiError:
    return err(400, "HTTPBadRequest", message)


def invalid(message: str) -> ApiError:
    return err(400, "InvalidInput", f"Invalid input for operation: {message}")


def not_found(kind: str, ident: str) -> ApiError:
    typ, msg = NOT_FOUND_TYPES[kind]
    return err(404, typ, msg.format(ident))


def policy(rule: str) -> ApiError:
    return err(403, "PolicyNotAuthorized", f"rule:{rule} is disallowed by policy")


# ---- the caller ---------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    """Who asks: a project, its powers. ``system`` is kumo itself (DHCP, compute)."""

    project_id: str
    is_admin: bool
    can_write: bool
    system: bool = False

    @classmethod
    def of(cls, ctx: AuthContext) -> Caller:
        if ctx.project_id is None:
            raise policy("project_scope")
        return cls(ctx.project_id, ctx.is_admin, ctx.can_write)

    @classmethod
    def kumo(cls, project_id: str) -> Caller:
        return cls(project_id, True, True, True)

    def sees(self, obj: Obj) -> bool:
        return self.is_admin or obj["metadata"].get("namespace") == self.project_id

    def require_write(self, rule: str) -> None:
        if not self.can_write:
            raise policy(rule)


async def caller(request: Request) -> Caller:
    return Caller.of(await authenticate(request))


# ---- bodies and values --------------------------------------------------------
async def body_of(request: Request, resource: str) -> Obj:
    try:
        data = await read_json(request)
    except ApiError as exc:
        if exc.status == 400:
            raise bad_request(exc.message) from exc
        raise
    inner = data.get(resource)
    if not isinstance(inner, dict):
        raise bad_request(f"Unable to find '{resource}' in request body")
    return inner


def check_keys(data: Obj, allowed: Iterable[str]) -> None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise bad_request("Unrecognized attribute(s) '" + ", ".join(extra) + "'")


def check_project(c: Caller, data: Obj) -> str:
    """The project a new resource belongs to: the caller's, or (admins) the one given."""
    pid = data.get("project_id") or data.get("tenant_id")
    if data.get("project_id") and data.get("tenant_id") and \
            data["project_id"] != data["tenant_id"]:
        raise bad_request("'project_id' and 'tenant_id' do not match")
    if pid is None or pid == c.project_id:
        return c.project_id
    if not isinstance(pid, str) or not pid:
        raise invalid(f"'{pid}' is not a valid project id")
    if not c.is_admin:
        raise bad_request("Specifying 'project_id' or 'tenant_id' other than the "
                          "authenticated project in request requires admin privileges")
    return pid


def to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise invalid(f"Invalid input for {name}. Reason: '{value}' is not a valid boolean "
                  "value.")


def to_str(name: str, value: Any, max_len: int = 255) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid(f"Invalid input for {name}. Reason: '{value}' is not a valid string.")
    if len(value) > max_len:
        raise invalid(f"Invalid input for {name}. Reason: '{value}' exceeds maximum length "
                      f"of {max_len}.")
    return value


def to_int(name: str, value: Any, lo: int, hi: int) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        out = int(value)
    except (TypeError, ValueError) as exc:
        raise invalid(f"Invalid input for {name}. Reason: '{value}' is not an "
                      "integer.") from exc
    if not lo <= out <= hi:
        raise invalid(f"Invalid input for {name}. Reason: '{value}' is not in range "
                      f"{lo} through {hi}.")
    return out


def to_ipv4(name: str, value: Any) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except (ValueError, TypeError) as exc:
        raise invalid(f"Invalid input for {name}. Reason: '{value}' is not a valid IP "
                      "address.") from exc


def to_tags(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise bad_request(f"Invalid input for tags. Reason: '{value}' is not a list.")
    out: list[str] = []
    for tag in value:
        check_tag(tag)
        if tag not in out:
            out.append(tag)
    return out


def check_tag(tag: Any) -> None:
    if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LEN or "," in tag:
        raise bad_request(f"Invalid input for tags. Reason: '{tag}' is not a valid tag "
                          f"(1-{MAX_TAG_LEN} characters, no comma).")


# ---- times and common view fields -----------------------------------------------
def _iso(ts: str | None) -> str | None:
    return ts[:19] + "Z" if ts else None


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(obj: Obj) -> Obj:
    obj["metadata"].setdefault("annotations", {})[ANN_UPDATED] = now_iso()
    return obj


def standard(obj: Obj) -> Obj:
    """id, project, description, tags, timestamps and revision: every resource has them."""
    md, spec = obj["metadata"], obj["spec"]
    created = _iso(md.get("creationTimestamp"))
    return {"id": md["name"], "tenant_id": md["namespace"], "project_id": md["namespace"],
            "description": spec.get("description", ""), "tags": list(spec.get("tags") or []),
            "created_at": created,
            "updated_at": (md.get("annotations") or {}).get(ANN_UPDATED) or created,
            "revision_number": int(md.get("generation", 1)) - 1}


def new_object(kind: str, project: str, name: str, spec: Obj,
               labels: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "kumo.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": project, "labels": labels or {}},
            "spec": spec}


# ---- lookups --------------------------------------------------------------------
async def find_any(rt: Runtime, kind: str, ident: str, prefer: str | None = None) -> Obj | None:
    """An object by id in whatever project holds it."""
    if prefer:
        obj = await rt.objects.try_get(kind, prefer, ident)
        if obj is not None:
            return obj
    for obj in (await rt.objects.list(kind, None)).items:
        if obj["metadata"]["name"] == ident:
            return obj
    return None


async def find_network(rt: Runtime, c: Caller, net_id: str) -> Obj:
    """A network the caller can see (own, shared or any for admins), or 404."""
    net = await rt.objects.try_get(nm.NETWORK, c.project_id, net_id)
    if net is None:
        if c.is_admin:
            net = await find_any(rt, nm.NETWORK, net_id)
        else:
            shared = await rt.objects.list(nm.NETWORK, None,
                                           label_selector=f"{nm.SHARED_LABEL}=true")
            net = next((n for n in shared.items if n["metadata"]["name"] == net_id), None)
    if net is None or net["metadata"].get("deletionTimestamp"):
        raise not_found(nm.NETWORK, net_id)
    return net


async def visible_networks(rt: Runtime, c: Caller) -> list[Obj]:
    if c.is_admin:
        return (await rt.objects.list(nm.NETWORK, None)).items
    own = (await rt.objects.list(nm.NETWORK, c.project_id)).items
    names = {n["metadata"]["name"] for n in own}
    shared = await rt.objects.list(nm.NETWORK, None, label_selector=f"{nm.SHARED_LABEL}=true")
    return own + [n for n in shared.items if n["metadata"]["name"] not in names]


async def find_owned(rt: Runtime, c: Caller, kind: str, ident: str) -> Obj:
    """A resource of the caller's project (any project for admins), or 404."""
    obj = await rt.objects.try_get(kind, c.project_id, ident)
    if obj is None and c.is_admin:
        obj = await find_any(rt, kind, ident)
    if obj is None:
        raise not_found(kind, ident)
    return obj


async def mutate(rt: Runtime, obj: Obj, change: Callable[[Obj], None]) -> Obj:
    """Apply ``change`` to a fresh copy and write it (CAS, retried on Conflict)."""
    md = obj["metadata"]
    current = obj
    for _ in range(CAS_ATTEMPTS):
        new = copy.deepcopy(current)
        change(new)
        stamp(new)
        try:
            return await rt.objects.update(new)
        except store.Conflict:
            fresh = await rt.objects.try_get(obj["kind"], md["namespace"], md["name"])
            if fresh is None:
                raise not_found(obj["kind"], md["name"]) from None
            current = fresh
        except store.NotFound:
            raise not_found(obj["kind"], md["name"]) from None
    raise err(409, "Conflict", f"{obj['kind']} {md['name']} is being changed concurrently; "
                               "try again.")


# ---- quotas -----------------------------------------------------------------------
async def quota_limits(rt: Runtime, project: str) -> dict[str, int]:
    found = await rt.objects.try_get(cm.QUOTA_SET, project, QUOTA_NAME)
    overrides = (found or {}).get("spec") or {}
    return {k: int(overrides.get(k, v)) for k, v in QUOTA_DEFAULTS.items()}


async def usage(rt: Runtime, project: str, resource: str) -> int:
    kind = QUOTA_KINDS.get(resource)
    if kind is None:
        return 0
    return len((await rt.objects.list(kind, project)).items)


async def check_quota(rt: Runtime, c: Caller, project: str, resource: str, count: int = 1) -> None:
    if c.system:
        return
    limit = (await quota_limits(rt, project))[resource]
    if limit < 0:
        return
    if await usage(rt, project, resource) + count > limit:
        raise err(409, "OverQuota", f"Quota exceeded for resources: ['{resource}'].")


# ---- list queries -------------------------------------------------------------------
_CONTROL = {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse", "tags",
            "tags-any", "not-tags", "not-tags-any", "tenant_id", "project_id"}


def _match(value: Any, wanted: list[str]) -> bool:
    if isinstance(value, list):
        return any(_match(v, wanted) for v in value) if value else False
    if isinstance(value, dict):
        # fixed_ips=ip_address=10.0.0.3 / allowed_address_pairs=ip_address=...
        for w in wanted:
            k, sep, v = w.partition("=")
            if sep and str(value.get(k)) == v:
                return True
        return False
    if isinstance(value, bool):
        return str(value).lower() in {w.lower() for w in wanted}
    if value is None:
        return any(w in ("", "None", "null") for w in wanted)
    return str(value) in wanted


def _sort_value(v: Any) -> tuple[int, Any]:
    if v is None:
        return (0, "")
    if isinstance(v, bool | int | float):
        return (1, v)
    return (2, str(v))


def _tags_ok(tags: set[str], params: Any) -> bool:
    def csv(name: str) -> list[set[str]]:
        return [{t for t in raw.split(",") if t} for raw in params.getlist(name)]

    for group in csv("tags"):
        if not group <= tags:
            return False
    anys = csv("tags-any")
    if anys and not any(g & tags for g in anys):
        return False
    for group in csv("not-tags"):
        if group and group <= tags:
            return False
    return all(not (g & tags) for g in csv("not-tags-any"))


def by_creation(objs: list[Obj]) -> list[Obj]:
    return sorted(objs, key=lambda o: (o["metadata"].get("creationTimestamp", ""),
                                       o["metadata"]["name"]))


def select_fields(view: Obj, fields: list[str]) -> Obj:
    if not fields:
        return view
    return {k: v for k, v in view.items() if k in fields}


def fields_of(request: Request) -> list[str]:
    out: list[str] = []
    for raw in request.query_params.getlist("fields"):
        out += [f for f in raw.split(",") if f]
    return out


def list_response(request: Request, collection: str, views: list[Obj]) -> Obj:
    """Neutron's list query over views: filters, tags, sort, marker pagination, fields."""
    params = request.query_params
    known = set().union(*(v.keys() for v in views)) if views else set()
    for key in set(params.keys()) - _CONTROL:
        if views and key not in known:
            raise bad_request(f"['{key}'] is invalid attribute for filtering")
        wanted = params.getlist(key)
        views = [v for v in views if _match(v.get(key), wanted)]
    projects = params.getlist("project_id") + params.getlist("tenant_id")
    if projects:
        views = [v for v in views if v.get("project_id") in projects]
    if any(params.getlist(k) for k in ("tags", "tags-any", "not-tags", "not-tags-any")):
        views = [v for v in views if _tags_ok(set(v.get("tags") or []), params)]
    keys = params.getlist("sort_key")
    dirs = params.getlist("sort_dir")
    if len(dirs) > len(keys):
        raise bad_request("The number of sort_keys and sort_dirs must be same")
    for k in keys:
        if views and k not in known:
            raise bad_request(f"{k} is an invalid attribute for sort_keys")
    for d in dirs:
        if d not in ("asc", "desc"):
            raise bad_request(f"{d} is an invalid value for sort_dirs, valid values are "
                              "'asc' and 'desc'")
    order = list(zip(keys, dirs + ["asc"] * (len(keys) - len(dirs)), strict=True))
    reverse_page = (params.get("page_reverse") or "").lower() == "true"
    if order:  # without sort keys: the callers' order (creation), stable for markers
        order.append(("id", "asc"))
    elif reverse_page:
        views.reverse()
    for key, direction in reversed(order):
        views.sort(key=lambda v, k=key: _sort_value(v.get(k)),
                   reverse=(direction == "desc") != reverse_page)
    links: list[Obj] = []
    limit_raw = params.get("limit")
    marker = params.get("marker")
    if limit_raw is not None or marker:
        try:
            limit = int(limit_raw) if limit_raw not in (None, "") else 0
        except ValueError as exc:
            raise bad_request(f"Limit must be an integer 0 or greater and not '{limit_raw}'") \
                from exc
        if limit < 0:
            raise bad_request(f"Limit must be an integer 0 or greater and not '{limit_raw}'")
        start = 0
        if marker:
            idx = next((i for i, v in enumerate(views) if v["id"] == marker), None)
            if idx is None:
                raise bad_request(f"Marker {marker} could not be found")  # NotFound in Neutron
            start = idx + 1
        page = views[start:start + limit] if limit else views[start:]
        more = limit > 0 and start + limit < len(views)
        if reverse_page:
            page.reverse()
        views = page
        if views and limit:
            url = str(request.url.replace(query=""))

            def href(mark: str, rev: bool) -> str:
                q = [*[(k, v) for k, v in params.multi_items()
                       if k not in ("marker", "page_reverse")], ("marker", mark)]
                if rev:
                    q.append(("page_reverse", "True"))
                return f"{url}?{urlencode(q)}"

            has_next = more if not reverse_page else bool(marker)
            has_prev = bool(marker) if not reverse_page else more
            if has_next:
                links.append({"rel": "next", "href": href(views[-1]["id"], False)})
            if has_prev:
                links.append({"rel": "previous", "href": href(views[0]["id"], True)})
    fields = fields_of(request)
    out: Obj = {collection: [select_fields(v, fields) for v in views]}
    if links:
        out[collection + "_links"] = links
    return out
