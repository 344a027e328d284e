"""What every Designate handler shares: the caller (with ``sudo`` and ``all_projects``),
Designate's error body, links, list filters, sorting and pagination."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from kumo.core import dns as zones
from kumo.core import errors as domain
from kumo.core.actor import Actor
from kumo.observe import logging as klog

from ...auth import authenticate
from ...common import actor_of, query_int, read_json
from ...errors import ApiError
from ...runtime import runtime

Obj = dict[str, Any]
TRUE = ("1", "true", "yes", "on")
STATUS_BY_CODE = {"over_quota": 413, "bad_request": 400}


def designate_body(err: ApiError) -> dict[str, Any]:
    """Designate's error: ``{"code", "type", "message", "request_id"}``."""
    kind = _snake(err.reason) if err.reason else {400: "bad_request", 401: "unauthorized", 403: "forbidden",
                          404: "not_found", 405: "method_not_allowed", 409: "conflict",
                          413: "over_quota"}.get(err.status, "unknown")
    return {"code": err.status, "type": kind, "message": err.message,
            "request_id": klog.request_id.get() or ""}


def _snake(reason: str) -> str:
    """The shared helpers' CamelCase reasons (BadRequest) as Designate's types."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", reason).lower()


def from_domain(exc: domain.DomainError) -> ApiError:
    """Domain refusal → Designate status and type (the code is the type)."""
    if isinstance(exc, domain.NotFound):
        return ApiError(404, exc.message, reason=_typed(exc.code, "not_found"))
    if isinstance(exc, domain.Conflict):
        return ApiError(409, exc.message, reason=_typed(exc.code, "conflict"))
    if isinstance(exc, domain.QuotaExceeded):
        return ApiError(413, exc.message, reason="over_quota")
    if isinstance(exc, domain.Forbidden):
        return ApiError(403, exc.message, reason=_typed(exc.code, "forbidden"))
    status = STATUS_BY_CODE.get(exc.code, 400)
    return ApiError(status, exc.message, reason=_typed(exc.code, "invalid_object"))


def _typed(code: str, default: str) -> str:
    return code if code and code.islower() else default


@dataclass(frozen=True)
class Caller:
    actor: Actor
    all_projects: bool
    token_project: str | None
    admin: bool = False  # the token's role (the actor is not an admin without the headers)


async def caller(request: Request) -> Caller:
    """The token's actor; an admin's ``X-Auth-Sudo-Project-Id`` acts as that project,
    ``X-Auth-All-Projects`` widens lists and lookups (admins only: 403 otherwise)."""
    ctx = await authenticate(request)
    actor = actor_of(ctx)
    sudo = (request.headers.get("x-auth-sudo-project-id")
            or request.headers.get("x-auth-sudo-tenant-id"))
    every = (request.headers.get("x-auth-all-projects") or "").lower() in TRUE or (
        request.query_params.get("all_projects", "").lower() in TRUE)
    if (sudo or every) and not actor.is_admin:
        raise ApiError(403, "You are not authorized to use sudo or all_projects.",
                       reason="forbidden")
    if sudo:
        actor = Actor(sudo, actor.user_id, False, True)
    elif not every and actor.is_admin:  # an admin sees its own project unless it asks
        actor = Actor(actor.project_id, actor.user_id, False, actor.can_write)
        return Caller(actor, False, ctx.project_id, True)
    return Caller(actor, every, ctx.project_id, ctx.is_admin)


async def caller_zone(request: Request) -> tuple[Caller, Obj]:
    """The caller and the path's ``{zone_id}`` zone (404 unless the caller sees it)."""
    c = await caller(request)
    return c, await zones.get_zone(runtime(request).objects, c.actor,
                                   request.path_params["zone_id"])


async def admin_caller(request: Request) -> Actor:
    ctx = await authenticate(request)
    if not ctx.is_admin:
        raise ApiError(403, "You are not authorized to perform this action (admin only).",
                       reason="forbidden")
    return actor_of(ctx)


async def body_of(request: Request) -> Obj:
    return await read_json(request)


def base_url(request: Request) -> str:
    cfg = runtime(request).config
    base = cfg.public_url.rstrip("/") if cfg.public_url else (
        f"{request.url.scheme}://{request.headers.get('host') or request.url.netloc}")
    return base + request.scope.get("root_path", "")


def iso(ts: str | None) -> str | None:
    if not ts:
        return None
    ts = ts.removesuffix("Z")
    return ts if "." in ts else ts + ".000000"


def matches(value: Any, wanted: str) -> bool:
    """Designate's filters: exact, or ``*`` wildcards."""
    text = "" if value is None else str(value)
    return fnmatch.fnmatchcase(text, wanted) if "*" in wanted else text == wanted


def listing(request: Request, rows: list[Obj], key: str, filters: tuple[str, ...],
            sort_keys: tuple[str, ...]) -> JSONResponse:
    """Designate's list answer: ``{key: the page, "links", "metadata": {"total_count"}}``."""
    rows, links, total = page(request, rows, filters, sort_keys)
    return JSONResponse({key: rows, "links": links, "metadata": {"total_count": total}})


def page(request: Request, rows: list[Obj], filters: tuple[str, ...],
         sort_keys: tuple[str, ...]) -> tuple[list[Obj], dict[str, Any], int]:
    """Filter, sort (``sort_key``/``sort_dir``), then ``marker``/``limit``; the page and
    the ``links`` (with ``next`` when more follow), the count before paging."""
    q = request.query_params
    for name in filters:
        if name in q:
            rows = [r for r in rows if matches(r.get(name), q[name])]
    sort_key = q.get("sort_key", "created_at")
    sort_dir = q.get("sort_dir", "asc")
    if sort_key not in sort_keys:
        raise ApiError(400, f"sort key {sort_key!r} is not one of {', '.join(sort_keys)}",
                       reason="invalid_sort_key")
    if sort_dir not in ("asc", "desc"):
        raise ApiError(400, "sort_dir must be asc or desc", reason="invalid_sort_dir")
    rows.sort(key=_sorter(sort_key), reverse=sort_dir == "desc")
    total = len(rows)
    marker = q.get("marker")
    if marker:
        ids = [r["id"] for r in rows]
        if marker not in ids:
            raise ApiError(400, f"marker {marker} is not in this list", reason="invalid_marker")
        rows = rows[ids.index(marker) + 1:]
    limit = query_int(request, "limit", minimum=1, maximum=1000, default=None)
    links: dict[str, Any] = {"self": str(request.url)}
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        params = dict(q)
        params["marker"] = rows[-1]["id"]
        params["limit"] = str(limit)
        query = "&".join(f"{k}={v}" for k, v in params.items())
        links["next"] = f"{base_url(request)}{request.url.path.removeprefix(request.scope.get('root_path', ''))}?{query}"
    return rows, links, total


def _sorter(key: str) -> Callable[[Obj], Any]:
    return lambda r: (r.get(key) is None, r.get(key) if r.get(key) is not None else "",
                      r.get("id"))
