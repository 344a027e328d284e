"""GET/PUT/DELETE of servers: listing with Nova's filters, show, rename, delete.

Delete is a store delete: while the agent's finalizer holds the object it is
shown as DELETED (task deleting); once the agent has destroyed the VM and let
go, the server is gone (404).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import compute as cm

from ...runtime import runtime
from . import quotas as compute_quotas
from . import views
from .common import (
    ANN_HOSTNAME,
    ANN_RESERVATION,
    bad,
    body_of,
    caller,
    conflict,
    find_server,
    forbidden,
    index_and_detail,
    member_server,
    mutate_server,
    paginate,
    parse_time,
    policy_denied,
    request_id,
    server_user,
    stamp_updated,
)
from .instance_actions import record_action, record_step
from .microversion import at_least
from .schemas import UpdateBody, gate

Obj = dict[str, Any]
TRUE = ("1", "t", "true", "on", "y", "yes")
FALSE = ("0", "f", "false", "off", "n", "no")
NON_ADMIN_FILTERS = {"name", "status", "image", "flavor", "ip", "changes-since",
                     "all_tenants", "reservation_id", "ip6"}
V283_FILTERS = {"availability_zone", "config_drive", "key_name", "created_at", "launched_at",
                "terminated_at", "power_state", "task_state", "vm_state", "progress", "user_id"}


def _bool(name: str, value: str) -> bool:
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise bad(f"Unrecognized value '{value}', acceptable values are: {', '.join(TRUE + FALSE)}")


def _ref(value: str) -> str:
    return value.rstrip("/").rsplit("/", 1)[-1]


def _sort_keys(request: Request) -> dict[str, Callable[[Obj], Any]]:
    def st(key: str) -> Callable[[Obj], Any]:
        return lambda s: (s.get("status") or {}).get(key)

    def sp(key: str) -> Callable[[Obj], Any]:
        return lambda s: s["spec"].get(key)

    keys: dict[str, Callable[[Obj], Any]] = {
        "created_at": lambda s: s["metadata"].get("creationTimestamp"),
        "updated_at": views.updated_at, "uuid": lambda s: s["metadata"]["name"],
        "display_name": sp("displayName"), "display_description": sp("description"),
        "vm_state": lambda s: views.effective_state(s)[0],
        "task_state": lambda s: views.effective_state(s)[1], "power_state": st("powerState"),
        "launched_at": st("launchedAt"), "key_name": sp("keyName"),
        "availability_zone": sp("availabilityZone"), "project_id": lambda s: s["metadata"][
            "namespace"], "user_id": server_user, "image_ref": lambda s: (s["spec"].get(
                "image") or {}).get("id"), "host": sp("host"), "node": sp("host"),
        "hostname": lambda s: (s["metadata"].get("annotations") or {}).get(ANN_HOSTNAME),
    }
    if at_least(request, "2.73"):
        keys["locked"] = lambda s: bool(s["spec"].get("locked"))
    return keys


def _sorted(request: Request, is_admin: bool, servers: list[Obj]) -> list[Obj]:
    keys = request.query_params.getlist("sort_key") or ["created_at"]
    dirs = request.query_params.getlist("sort_dir")
    extractors = _sort_keys(request)
    for i, key in reversed(list(enumerate(keys))):
        if key not in extractors:
            raise bad(f"Invalid input for query parameters sort_key. Value: {key}. "
                      f"'{key}' is not one of {sorted(extractors)}")
        if key in ("host", "node") and not is_admin:
            raise forbidden(f"Only administrators can sort servers by {key}")
        direction = dirs[i] if i < len(dirs) else (dirs[-1] if dirs else "desc")
        if direction not in ("asc", "desc"):
            raise bad(f"Invalid input for query parameters sort_dir. Value: {direction}. "
                      f"'{direction}' is not one of ['asc', 'desc']")
        fn = extractors[key]
        servers.sort(key=lambda s, fn=fn: (fn(s) is not None, str(fn(s) or "")),
                     reverse=direction == "desc")
    return servers


def _status_filter(request: Request, values: list[str]) -> Callable[[Obj], bool] | None:
    pairs: set[tuple[str, str | None]] = set()
    for v in values:
        pairs |= views.states_for_status(v)
    if not pairs:
        if at_least(request, "2.38"):
            raise bad("Invalid status value")
        return None
    vms = {vm for vm, _ in pairs}
    tasks = {task for _, task in pairs}

    def match(s: Obj) -> bool:
        vm, task = ("deleted", None) if s["metadata"].get("deletionTimestamp") \
            else views.effective_state(s)
        return vm in vms and (None in tasks or task in tasks)
    return match


def _regex(value: str) -> re.Pattern[str]:
    try:
        return re.compile(value)
    except re.error:
        return re.compile(re.escape(value))


def _name_filter(value: str) -> Callable[[Obj], bool]:
    pattern = _regex(value)
    return lambda s: bool(pattern.search(s["spec"].get("displayName", "")))


def _filters(request: Request, is_admin: bool) -> list[Callable[[Obj], bool]]:
    q = request.query_params
    allowed = set(q.keys()) if is_admin else {k for k in q.keys() if k in NON_ADMIN_FILTERS or (
        at_least(request, "2.26") and k in ("tags", "tags-any", "not-tags", "not-tags-any"))
        or (at_least(request, "2.66") and k == "changes-before")
        or (at_least(request, "2.73") and k == "locked")
        or (at_least(request, "2.83") and k in V283_FILTERS)}
    out: list[Callable[[Obj], bool]] = []

    def add(key: str, fn: Callable[[str], Callable[[Obj], bool]]) -> None:
        if key in allowed:
            out.append(fn(q[key]))

    add("name", _name_filter)
    add("image", lambda v: lambda s: (s["spec"].get("image") or {}).get("id") == _ref(v))
    add("flavor", lambda v: lambda s: str((s["spec"].get("flavor") or {}).get("id")) == _ref(v))
    add("host", lambda v: lambda s: s["spec"].get("host") == v)
    add("node", lambda v: lambda s: s["spec"].get("host") == v)
    add("reservation_id", lambda v: lambda s: (s["metadata"].get("annotations") or {}).get(
        ANN_RESERVATION) == v)
    add("key_name", lambda v: lambda s: s["spec"].get("keyName") == v)
    add("availability_zone", lambda v: lambda s: s["spec"].get("availabilityZone") == v)
    add("user_id", lambda v: lambda s: server_user(s) == v)
    add("vm_state", lambda v: lambda s: views.effective_state(s)[0] == v)
    add("task_state", lambda v: lambda s: views.effective_state(s)[1] == v)
    add("power_state", lambda v: lambda s: str((s.get("status") or {}).get("powerState", 0)) == v)
    add("ip", lambda v: lambda s: False)
    add("ip6", lambda v: lambda s: False)
    if "locked" in allowed:
        want = _bool("locked", q["locked"])
        out.append(lambda s: bool(s["spec"].get("locked")) == want)
    for key in ("tags", "tags-any", "not-tags", "not-tags-any"):
        if key in allowed:
            wanted = {t for t in q[key].split(",") if t}
            out.append(_tag_filter(key, wanted))
    if "status" in allowed:
        status = _status_filter(request, q.getlist("status"))
        out.append(status if status is not None else (lambda s: False))
    for key, later in (("changes-since", False), ("changes-before", True)):
        if key in allowed:
            when = parse_time(q[key])
            if when is None:
                raise bad(f"Invalid filter field: {key}.")
            out.append(lambda s, w=when, later=later: (
                (parse_time(views.updated_at(s)) or w) <= w if later
                else (parse_time(views.updated_at(s)) or w) >= w))
    return out


def _tag_filter(key: str, wanted: set[str]) -> Callable[[Obj], bool]:
    def match(s: Obj) -> bool:
        tags = set(s["spec"].get("tags") or [])
        hit = wanted <= tags if key.endswith("tags") else bool(wanted & tags)
        return not hit if key.startswith("not-") else hit
    return match


async def _list(request: Request, detail: bool) -> Response:
    ctx = await caller(request)
    q = request.query_params
    all_tenants = "all_tenants" in q and (q["all_tenants"] == "" or _bool("all_tenants",
                                                                         q["all_tenants"]))
    if all_tenants and not ctx.is_admin:
        raise policy_denied("os_compute_api:servers:"
                            f"{'detail' if detail else 'index'}:get_all_tenants")
    objects = runtime(request).objects
    namespace = None if all_tenants else ctx.project_id
    servers = (await objects.list(cm.SERVER, namespace)).items
    project = q.get("project_id") or q.get("tenant_id")
    if all_tenants and project:
        servers = [s for s in servers if s["metadata"]["namespace"] == project]
    for keep in _filters(request, ctx.is_admin):
        servers = [s for s in servers if keep(s)]
    servers = _sorted(request, ctx.is_admin, servers)
    servers, links = paginate(request, "servers", servers, detail)
    vc = await views.view_context(request, ctx, servers if detail else None)
    return JSONResponse({"servers": [views.show(vc, s, detail_list=True) if detail
                                     else views.basic(vc, s) for s in servers], **links})


index, detail = index_and_detail(_list)


async def show(request: Request) -> Response:
    ctx = await caller(request)
    server = await find_server(request, ctx, request.path_params["server_id"])
    vc = await views.view_context(request, ctx, [server])
    return JSONResponse({"server": views.show(vc, server)})


async def update(request: Request) -> Response:
    ctx, server = await member_server(request, "os_compute_api:servers:update")
    body = await body_of(request, UpdateBody, "server")
    gate(request, body.server, "server", ("description", "hostname"))
    fields = body.server.model_fields_set

    def change(obj: Obj) -> None:
        if "name" in fields and body.server.name is not None:
            obj["spec"]["displayName"] = body.server.name
        if "description" in fields:
            obj["spec"]["description"] = body.server.description
        if "hostname" in fields and body.server.hostname:
            obj["metadata"].setdefault("annotations", {})[ANN_HOSTNAME] = body.server.hostname
        stamp_updated(obj)

    updated = await mutate_server(runtime(request).objects, server, change)
    vc = await views.view_context(request, ctx, [updated])
    return JSONResponse({"server": views.show(vc, updated)})


async def delete(request: Request) -> Response:
    ctx, server = await member_server(request, "os_compute_api:servers:delete")
    sid = server["metadata"]["name"]
    if server["metadata"].get("deletionTimestamp"):
        return Response(status_code=204)
    req_id = request_id(request)

    def change(obj: Obj) -> None:
        if obj["spec"].get("locked") and not ctx.is_admin:
            raise conflict(f"Instance {sid} is locked")
        obj["spec"]["requestId"] = req_id
        stamp_updated(obj)

    objects = runtime(request).objects
    md = server["metadata"]
    updated = await mutate_server(objects, server, change)
    await record_action(objects, updated, "delete", req_id, ctx)
    await record_step(objects, updated, "DeleteAccepted", f"server {sid} marked for deletion",
                      req_id)
    try:
        await objects.delete(cm.SERVER, md["namespace"], md["name"])
    except store.NotFound:
        pass
    await compute_quotas.release(objects, md["namespace"], [md["name"]])
    return Response(status_code=204)
