"""What every Nova handler shares: the caller, Nova's errors, bodies, links, CAS writes.

Errors are ``ApiError`` rendered by compute.py in Nova's format
(``{"badRequest": {"message", "code"}}``...). Request bodies are pydantic
models; a validation error becomes Nova's 400 naming the field
("Invalid input for field/attribute <field>. Value: <v>. <why>").
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from kumo import store
from kumo.model import compute as cm
from kumo.model import identity as idm

from ...auth import AuthContext, authenticate
from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime
from .microversion import URL_PROJECT_KEY

Obj = dict[str, Any]
M = TypeVar("M", bound=BaseModel)
ANN_UPDATED = "compute.kumo.io/updated-at"
ANN_USER = "compute.kumo.io/user-id"
ANN_RESERVATION = "compute.kumo.io/reservation-id"
ANN_LAUNCH_INDEX = cm.ANN_LAUNCH_INDEX
ANN_HOSTNAME = cm.ANN_HOSTNAME
SERVER_LABEL = "kumo.io/server"
COMPONENT = "compute-api"


# ---- errors -------------------------------------------------------------------
def bad(message: str) -> ApiError:
    return ApiError(400, message, reason="BadRequest")


def not_found(message: str) -> ApiError:
    return ApiError(404, message, reason="NotFound")


def conflict(message: str) -> ApiError:
    return ApiError(409, message, reason="Conflict")


def forbidden(message: str) -> ApiError:
    return ApiError(403, message, reason="Forbidden")


def policy_denied(rule: str) -> ApiError:
    return forbidden(f"Policy doesn't allow {rule} to be performed.")


# ---- the caller -----------------------------------------------------------------
async def caller(request: Request) -> AuthContext:
    """The authenticated, project-scoped caller (Nova needs a project)."""
    ctx = await authenticate(request)
    if ctx.project_id is None:
        raise forbidden("The compute API needs a project-scoped token.")
    url_project = request.scope.get(URL_PROJECT_KEY)
    if url_project and url_project != ctx.project_id:
        raise bad(f"Malformed request URL: URL's project_id '{url_project}' doesn't match "
                  f"Context's project_id '{ctx.project_id}'")
    return ctx


def project_of(ctx: AuthContext) -> str:
    assert ctx.project_id is not None
    return ctx.project_id


def require_member(ctx: AuthContext, rule: str) -> None:
    """Writes need the member (or admin) role, as Nova's default policy."""
    if not ctx.can_write:
        raise policy_denied(rule)


def require_admin(ctx: AuthContext, rule: str) -> None:
    if not ctx.is_admin:
        raise policy_denied(rule)


def request_id(request: Request) -> str:
    return request.scope.get("kumo.request_id") or "req-unknown"


async def project_exists(request: Request, project_id: str) -> bool:
    return await runtime(request).objects.try_get(idm.PROJECT, "", project_id) is not None


# ---- bodies ---------------------------------------------------------------------
def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _at(data: Any, path: list[Any]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def validation_message(exc: ValidationError, root: str, data: Any = None) -> str:
    """Nova's wording for the first schema violation."""
    err = exc.errors(include_url=False)[0]
    raw_loc = [p for p in err["loc"] if not str(p).startswith("function-")]
    loc = [str(p) for p in raw_loc]
    kind, value = err["type"], err.get("input")
    if kind == "nova_raw":
        return str(err["msg"])
    if kind == "missing":
        path, msg = loc[:-1], f"'{loc[-1]}' is a required property"
    elif kind == "extra_forbidden":
        path, msg = loc[:-1], f"Additional properties are not allowed ('{loc[-1]}' was unexpected)"
        value = _at(data, raw_loc[:-1])
    else:
        path = loc
        msg = str(err.get("msg", "is invalid"))
        msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if not path:
        return msg if kind != "model_type" else f"Invalid input for field/attribute {root}. " \
            f"Value: {_short(value)}. {_short(value)} is not of type 'object'"
    return f"Invalid input for field/attribute {path[-1]}. Value: {_short(value)}. {msg}"


def parse_model(model: type[M], data: Any, root: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise bad(validation_message(exc, root, data)) from exc


async def body_of_any(request: Request) -> dict[str, Any]:
    """The request body, a JSON object; "Malformed request body" (400) when it is not."""
    try:
        return await read_json(request)
    except ApiError as err:
        if err.status == 400:
            raise bad("Malformed request body") from err
        raise


async def body_of(request: Request, model: type[M], root: str) -> M:
    """The request body as ``model``; 400 (Nova's wording) when it is not."""
    return parse_model(model, await body_of_any(request), root)


# ---- time and links -------------------------------------------------------------
def parse_time(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def isotime(ts: str | None) -> str | None:
    """Nova's whole-second UTC stamp: 2024-05-01T12:00:00Z."""
    dt = parse_time(ts)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def microtime(ts: str | None) -> str | None:
    """Nova's serialized datetimes (launched_at, action times): 2024-05-01T12:00:00.000000."""
    dt = parse_time(ts)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") if dt else None


def compute_root(request: Request) -> str:
    """This service's public URL without the version (…/compute)."""
    cfg = runtime(request).config
    base = cfg.public_url.rstrip("/") if cfg.public_url else (
        f"{request.url.scheme}://{request.headers.get('host') or request.url.netloc}")
    return base + request.scope.get("root_path", "")


def links(request: Request, collection: str, item_id: str) -> list[dict[str, str]]:
    root = compute_root(request)
    return [{"rel": "self", "href": f"{root}/v2.1/{collection}/{item_id}"},
            {"rel": "bookmark", "href": f"{root}/{collection}/{item_id}"}]


def bookmark(request: Request, collection: str, item_id: str) -> list[dict[str, str]]:
    return [{"rel": "bookmark", "href": f"{compute_root(request)}/{collection}/{item_id}"}]


def next_link(request: Request, collection: str, marker: str) -> list[dict[str, str]]:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "marker"]
    params.append(("marker", marker))
    query = urlencode(params)
    return [{"rel": "next", "href": f"{compute_root(request)}/v2.1/{collection}?{query}"}]


# ---- paging ---------------------------------------------------------------------
MAX_LIMIT = 1000


def limit_marker(request: Request) -> tuple[int, str | None]:
    raw = request.query_params.get("limit")
    limit = MAX_LIMIT
    if raw is not None:
        try:
            limit = int(raw)
        except ValueError as exc:
            raise bad("limit param must be an integer") from exc
        if limit < 0:
            raise bad("limit param must be positive")
        limit = min(limit, MAX_LIMIT)
    return limit, request.query_params.get("marker")


def page(items: list[Obj], key: Callable[[Obj], str], limit: int, marker: str | None
         ) -> list[Obj]:
    if marker is not None:
        ids = [key(i) for i in items]
        if marker not in ids:
            raise bad(f"marker [{marker}] not found")
        items = items[ids.index(marker) + 1:]
    return items[:limit]


def paginate(request: Request, collection: str, items: list[Obj], detail: bool = False
             ) -> tuple[list[Obj], Obj]:
    """One page of ``items`` (keyed by object name) and, when the page is full, the
    ``<collection>_links`` entry pointing at the next one."""
    limit, marker = limit_marker(request)
    items = page(items, lambda o: o["metadata"]["name"], limit, marker)
    extra: Obj = {}
    if items and len(items) == limit:
        coll = f"{collection}/detail" if detail else collection
        extra[f"{collection}_links"] = next_link(request, coll, items[-1]["metadata"]["name"])
    return items, extra


Endpoint = Callable[[Request], Awaitable[Response]]


def index_and_detail(list_fn: Callable[[Request, bool], Awaitable[Response]]
                     ) -> tuple[Endpoint, Endpoint]:
    """The two endpoints of a collection (GET /x and /x/detail) over one lister."""
    async def index(request: Request) -> Response:
        return await list_fn(request, False)

    async def detail(request: Request) -> Response:
        return await list_fn(request, True)

    return index, detail


# ---- writes ---------------------------------------------------------------------
async def mutate(objects: store.ObjectStore, kind: str, ns: str, name: str,
                 change: Callable[[Obj], None], missing: ApiError) -> Obj:
    """``ObjectStore.mutate`` in Nova's words: ``missing`` for NotFound, 409 when
    the CAS keeps losing; no write when ``change`` leaves the object as it was.

    ``change`` edits a copy in place and may raise ApiError (re-checked on
    every attempt, so a state check sees the latest object).
    """
    def edit(obj: Obj) -> Any:
        before = copy.deepcopy(obj)
        change(obj)
        return store.UNCHANGED if obj == before else None

    try:
        return await objects.mutate(kind, ns, name, edit)
    except store.NotFound as exc:
        raise missing from exc
    except store.Conflict as exc:
        raise conflict("Too many concurrent updates; try again.") from exc


def stamp_updated(obj: Obj) -> None:
    obj["metadata"].setdefault("annotations", {})[ANN_UPDATED] = store.now_iso()


# ---- servers ------------------------------------------------------------------------
def instance_not_found(server_id: str) -> ApiError:
    return not_found(f"Instance {server_id} could not be found.")


async def find_server(request: Request, ctx: AuthContext, server_id: str) -> Obj:
    """The caller's server (any project's for admins); 404 otherwise, never 403."""
    objects = runtime(request).objects
    server = await objects.try_get(cm.SERVER, project_of(ctx), server_id)
    if server is None and ctx.is_admin:
        for obj in (await objects.list(cm.SERVER)).items:
            if obj["metadata"]["name"] == server_id:
                return obj
    if server is None:
        raise instance_not_found(server_id)
    return server


async def member_server(request: Request, rule: str) -> tuple[AuthContext, Obj]:
    """The caller and the server of the URL, for a write ``rule`` (404 before 403)."""
    ctx = await caller(request)
    server = await find_server(request, ctx, request.path_params["server_id"])
    require_member(ctx, rule)
    return ctx, server


async def mutate_server(objects: store.ObjectStore, server: Obj,
                        change: Callable[[Obj], None]) -> Obj:
    """``mutate`` on a server found before; 404 in Nova's words once it is gone."""
    md = server["metadata"]
    return await mutate(objects, cm.SERVER, md["namespace"], md["name"], change,
                        instance_not_found(md["name"]))


def server_user(server: Obj) -> str:
    return (server["metadata"].get("annotations") or {}).get(ANN_USER, "")


_HOSTNAME_BAD = re.compile(r"[^a-z0-9-]+")


def sanitize_hostname(name: str) -> str:
    """Nova's hostname from a display name: lowercase, [a-z0-9-], ≤ 63."""
    host = _HOSTNAME_BAD.sub("-", name.lower().replace("_", "-")).strip("-.")
    return host[:63].strip("-")
