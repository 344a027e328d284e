"""What every Neutron handler shares: the caller, request bodies, value converters,
lookups across projects, the CAS write and quota checks (errors.py has Neutron's
errors, lists.py the list query)."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from kumo import store
from kumo.common.clock import now_seconds_iso
from kumo.core import port_rules, quotas, rbac
from kumo.core.actor import Actor
from kumo.model import compute as cm
from kumo.model import network as nm

from ...auth import AuthContext, authenticate
from ...common import read_json
from ...errors import ApiError
from ...runtime import Runtime, runtime
from .errors import bad_request, err, invalid, not_found, policy

Obj = dict[str, Any]
MAX_TAG_LEN = 60


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

    def actor(self) -> Actor:
        """The same caller as the domain (kumo.core) sees it."""
        return Actor(self.project_id, None, self.is_admin, self.can_write, self.system)


def writable(c: Caller, obj: Obj, rule: str) -> Obj:
    """``obj`` if the caller may change it (a writer of its project, or an admin)."""
    if not c.sees(obj) or not c.can_write:
        raise policy(rule)
    return obj


async def caller(request: Request) -> Caller:
    return Caller.of(await authenticate(request))


Finder = Callable[[Runtime, Caller, str], Awaitable[Obj]]  # an object by id, as c sees it


# ---- bodies and values --------------------------------------------------------
async def read_body(request: Request) -> Obj:
    """The JSON object the request carries; a malformed one is Neutron's 400."""
    try:
        data: Obj = await read_json(request)
    except ApiError as exc:
        if exc.status == 400:
            raise bad_request(exc.message) from exc
        raise
    return data


async def body_of(request: Request, resource: str) -> Obj:
    data = await read_body(request)
    inner = data.get(resource)
    if not isinstance(inner, dict):
        raise bad_request(f"Unable to find '{resource}' in request body")
    return inner


async def create_request(request: Request, resource: str, allowed: Iterable[str]
                         ) -> tuple[Caller, Obj]:
    """A create's caller and body: known attributes only, writers only."""
    c = await caller(request)
    data = await body_of(request, resource)
    check_keys(data, allowed)
    c.require_write(f"create_{resource}")
    return c, data


async def update_request(request: Request, resource: str, find: Finder, param: str,
                         allowed: Iterable[str], read_only: Iterable[str] = ()
                         ) -> tuple[Runtime, Caller, Obj, Obj]:
    """An update's runtime, caller, target and body: read-only, then unknown attributes
    refused, then the object the path's ``param`` names if the caller may change it."""
    c = await caller(request)
    data = await body_of(request, resource)
    check_read_only(data, read_only)
    check_keys(data, allowed)
    rt = runtime(request)
    obj = writable(c, await find(rt, c, request.path_params[param]), f"update_{resource}")
    return rt, c, obj, data


async def delete_request(request: Request, resource: str, find: Finder, param: str
                         ) -> tuple[Runtime, Caller, Obj]:
    """A delete's runtime, caller and target, if the caller may delete it."""
    c = await caller(request)
    rt = runtime(request)
    return rt, c, writable(c, await find(rt, c, request.path_params[param]),
                           f"delete_{resource}")


def unique_list(name: str, value: Any, item: Callable[[Any], Any],
                duplicate: Callable[[Any], ApiError], limit: int,
                exhausted: Callable[[], ApiError]) -> list[Any]:
    """A list attribute of distinct items (``item`` parses one), at most ``limit``."""
    if not isinstance(value, list):
        raise invalid(f"Invalid input for {name}. Reason: '{value}' is not a list.")
    out: list[Any] = []
    for raw in value:
        parsed = item(raw)
        if parsed in out:
            raise duplicate(parsed)
        out.append(parsed)
    if len(out) > limit:
        raise exhausted()
    return out


def check_keys(data: Obj, allowed: Iterable[str]) -> None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise bad_request("Unrecognized attribute(s) '" + ", ".join(extra) + "'")


def check_read_only(data: Obj, names: Iterable[str]) -> None:
    """An update naming a read-only attribute is refused (the first of ``names``)."""
    for ro in names:
        if ro in data:
            raise bad_request(f"Cannot update read-only attribute {ro}")


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


def stamp(obj: Obj) -> Obj:
    obj["metadata"].setdefault("annotations", {})[nm.ANN_UPDATED] = now_seconds_iso()
    return obj


def standard(obj: Obj) -> Obj:
    """id, project, description, tags, timestamps and revision: every resource has them."""
    md, spec = obj["metadata"], obj["spec"]
    created = _iso(md.get("creationTimestamp"))
    return {"id": md["name"], "tenant_id": md["namespace"], "project_id": md["namespace"],
            "description": spec.get("description", ""), "tags": list(spec.get("tags") or []),
            "created_at": created,
            "updated_at": (md.get("annotations") or {}).get(nm.ANN_UPDATED) or created,
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
    """A network the caller can see (own, shared or any for admins), or NetworkNotFound."""
    return await port_rules.find_network(rt.objects, c.actor(), net_id)


async def visible_networks(rt: Runtime, c: Caller) -> list[Obj]:
    out = await visible_shared(rt, c, nm.NETWORK)
    if c.is_admin:
        return out
    names = {n["metadata"]["name"] for n in out}  # and those RBAC policies share with it
    out += [n for n in await rbac.shared_with(rt.objects, c.project_id)
            if n["metadata"]["name"] not in names]
    names |= {n["metadata"]["name"] for n in out}
    external = await rt.objects.list(nm.NETWORK, None,
                                     label_selector=f"{nm.EXTERNAL_LABEL}=true")
    return out + [n for n in external.items if n["metadata"]["name"] not in names]


async def visible_shared(rt: Runtime, c: Caller, kind: str) -> list[Obj]:
    """The caller's own objects of ``kind`` and those labelled shared (all for admins)."""
    if c.is_admin:
        return (await rt.objects.list(kind, None)).items
    own = (await rt.objects.list(kind, c.project_id)).items
    names = {o["metadata"]["name"] for o in own}
    shared = await rt.objects.list(kind, None, label_selector=f"{nm.SHARED_LABEL}=true")
    return own + [o for o in shared.items if o["metadata"]["name"] not in names]


async def list_owned(rt: Runtime, c: Caller, kind: str) -> list[Obj]:
    """The caller's project's objects of ``kind`` (every project's for admins)."""
    return (await rt.objects.list(kind, None if c.is_admin else c.project_id)).items


async def find_visible(rt: Runtime, c: Caller, kind: str, ident: str,
                       visible: Callable[[Runtime, Caller], Awaitable[list[Obj]]]) -> Obj:
    """An object of the caller's project, else one of ``visible(rt, c)``, or 404."""
    obj = await rt.objects.try_get(kind, c.project_id, ident)
    if obj is None:
        obj = next((o for o in await visible(rt, c) if o["metadata"]["name"] == ident), None)
    if obj is None:
        raise not_found(kind, ident)
    return obj


async def find_owned(rt: Runtime, c: Caller, kind: str, ident: str) -> Obj:
    """A resource of the caller's project (any project for admins), or 404."""
    obj = await rt.objects.try_get(kind, c.project_id, ident)
    if obj is None and c.is_admin:
        obj = await find_any(rt, kind, ident)
    if obj is None:
        raise not_found(kind, ident)
    return obj


async def delete_quietly(rt: Runtime, obj: Obj) -> None:
    """Delete ``obj``; one already gone (a racing delete) is fine."""
    md = obj["metadata"]
    try:
        await rt.objects.delete(obj["kind"], md["namespace"], md["name"])
    except store.NotFound:
        pass


async def mutate(rt: Runtime, obj: Obj, change: Callable[[Obj], None]) -> Obj:
    """Apply ``change`` to a fresh copy, stamp it updated and write it (store.mutate)."""
    md = obj["metadata"]

    def apply(new: Obj) -> None:
        change(new)
        stamp(new)

    try:
        return await rt.objects.mutate(obj["kind"], md["namespace"], md["name"], apply,
                                       current=obj)
    except store.NotFound:
        raise not_found(obj["kind"], md["name"]) from None
    except store.Conflict:
        raise err(409, "Conflict", f"{obj['kind']} {md['name']} is being changed "
                                   "concurrently; try again.") from None


# ---- quotas -----------------------------------------------------------------------
async def quota_limits(rt: Runtime, project: str) -> dict[str, int]:
    found = await rt.objects.try_get(cm.QUOTA_SET, project, nm.QUOTA_NAME)
    overrides = (found or {}).get("spec") or {}
    return {k: int(overrides.get(k, v)) for k, v in nm.QUOTA_DEFAULTS.items()}


async def usage(rt: Runtime, project: str, resource: str) -> int:
    """The project's counted use of ``resource`` (its QuotaUsage, ``kumo.core.quotas``)."""
    return (await quotas.usage(rt.objects, project, quotas.NETWORK)).get(resource, 0)


async def claim_quota(rt: Runtime, c: Caller, project: str, resource: str,
                      names: list[str]) -> None:
    """Count the objects ``names`` (about to be created) against the project's limit:
    one CAS on its usage, so racing creates never pass it (409 OverQuota). kumo's own
    creates are counted, never refused."""
    limits = None if c.system else {resource: (await quota_limits(rt, project))[resource]}
    await quotas.claim(rt.objects, project, quotas.NETWORK,
                       {n: {resource: 1} for n in names}, limits)


async def release_quota(rt: Runtime, project: str, names: list[str]) -> None:
    """The objects ``names`` are gone (deleted, or their create failed)."""
    await quotas.release(rt.objects, project, quotas.NETWORK, names)
