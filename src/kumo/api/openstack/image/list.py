"""GET /v2/images: who sees what, filters, sorting and marker pagination as Glance does."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...auth import AuthContext, authenticate
from ...runtime import runtime
from .access import all_images, visible
from .model import MEMBER_STATUSES, VISIBILITIES, bad, non_negative, parse_time, view

SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at",
             "updated_at")
DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
_CONTROL = {"limit", "marker", "sort", "sort_key", "sort_dir", "member_status", "visibility",
            "tag", "os_hidden", "protected", "size_min", "size_max", "created_at", "updated_at"}
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
    "eq": operator.eq, "neq": operator.ne}
Obj = dict[str, Any]
Pred = Callable[[Obj, dict[str, Any]], bool]


def listed(ctx: AuthContext, obj: Obj, visibility: str | None, member_status: str) -> bool:
    """Glance's list query: own, public, community and (accepted) shared images."""
    spec = obj["spec"]
    vis = spec["visibility"]
    mine = ctx.project_id is not None and spec.get("owner") == ctx.project_id
    if not ctx.is_admin:
        member = (spec.get("members") or {}).get(ctx.project_id or "")
        shared_ok = vis == "shared" and member is not None and member_status in ("all", member)
        if not (vis in ("public", "community") or mine or shared_ok):
            return False
    if visibility is None:
        return vis != "community" or mine
    return visibility == "all" or vis == visibility


def _bool_param(params: dict[str, str], name: str, default: str | None) -> bool | None:
    raw = params.get(name, default)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise bad(f"Invalid value '{raw}' for '{name}' filter. Valid values are 'true' or "
                  "'false'.")
    return raw.lower() == "true"


def _in_or_eq(attr: str, raw: str) -> Pred:
    op, _, value = raw.partition(":") if raw.startswith(("in:", "eq:")) else ("eq", "", raw)
    if op == "in":
        wanted = {v.strip().strip('"') for v in value.split(",")}
        return lambda obj, v: v.get(attr) in wanted
    return lambda obj, v: v.get(attr) == value


def _int_param(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise bad("Unable to filter on a range with a non-numeric value.") from exc


def _time_pred(attr: str, raw: str) -> Pred:
    op, _, value = raw.partition(":") if raw.split(":", 1)[0] in _OPERATORS else ("eq", "", raw)
    threshold = parse_time(value)
    compare = _OPERATORS[op]
    return lambda obj, v: v.get(attr) is not None and compare(parse_time(v[attr]), threshold)


def predicates(params: dict[str, str], tags: list[str]) -> list[Pred]:
    """Every filter of the query string as a predicate over (object, Glance view)."""
    if "changes-since" in params:
        raise bad('The "changes-since" filter is no longer available on v2.')
    preds: list[Pred] = []
    hidden = _bool_param(params, "os_hidden", "false")
    preds.append(lambda obj, v: v["os_hidden"] == hidden)
    protected = _bool_param(params, "protected", None)
    if protected is not None:
        preds.append(lambda obj, v: v["protected"] == protected)
    for attr in ("name", "id", "status", "container_format", "disk_format"):
        if attr in params:
            preds.append(_in_or_eq(attr, params[attr]))
    for attr in ("created_at", "updated_at"):
        if attr in params:
            preds.append(_time_pred(attr, params[attr]))
    lo, hi = _int_param(params, "size_min"), _int_param(params, "size_max")
    if lo is not None:
        preds.append(lambda obj, v: v["size"] is not None and v["size"] >= lo)
    if hi is not None:
        preds.append(lambda obj, v: v["size"] is not None and v["size"] <= hi)
    for tag in tags:
        preds.append(lambda obj, v, tag=tag: tag in v["tags"])
    for key, value in params.items():
        if key not in _CONTROL and key not in ("name", "id", "status", "container_format",
                                               "disk_format"):
            preds.append(lambda obj, v, key=key, value=value: _text(v.get(key)) == value)
    return preds


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def sort_spec(request: Request) -> list[tuple[str, str]]:
    """[(key, dir)] from ``sort=k:d,..`` or repeated ``sort_key``/``sort_dir``."""
    q = request.query_params
    keys: list[str] = []
    dirs: list[str] = []
    if "sort" in q:
        if "sort_key" in q or "sort_dir" in q:
            raise bad("Old and new sorting syntax cannot be combined")
        for part in q["sort"].strip().split(","):
            key, _, direction = part.partition(":")
            keys.append(key.strip())
            dirs.append(direction.strip() or "desc")
    else:
        keys = [k.strip() for k in q.getlist("sort_key")]
        dirs = [d.strip() for d in q.getlist("sort_dir")]
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise bad("Number of sort dirs does not match the number of sort keys")
    for key in keys:
        if key not in SORT_KEYS:
            raise bad(f"Invalid sort key: {key}. It must be one of the following: "
                      f"{', '.join(SORT_KEYS)}.")
    for d in dirs:
        if d not in ("asc", "desc"):
            raise bad(f"Invalid sort direction: {d}")
    keys = keys or ["created_at"]
    default_dir = dirs[0] if len(dirs) == 1 else "desc"
    if len(dirs) <= 1:
        dirs = [default_dir] * len(keys)
    for key in ("created_at", "id"):
        if key not in keys:
            keys.append(key)
            dirs.append(default_dir)
    return list(zip(keys, dirs, strict=True))


def _sort_value(obj: Obj, v: dict[str, Any], key: str) -> Any:
    if key == "created_at":
        return obj["metadata"].get("creationTimestamp") or ""
    if key == "updated_at":
        return (obj.get("status") or {}).get("updatedAt") or ""
    value = v.get(key)
    if value is None:
        return 0 if key == "size" else ""
    return value


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    return min(non_negative(raw, "limit param must be an integer",
                            "limit param must be positive"), MAX_LIMIT)


async def index(request: Request) -> Response:
    ctx = await authenticate(request)
    q = request.query_params
    params = {k: v for k, v in q.items() if k != "tag"}
    visibility = params.get("visibility")
    if visibility is not None and visibility not in (*VISIBILITIES, "all"):
        raise bad(f"Invalid visibility value: {visibility}")
    member_status = params.get("member_status", "accepted")
    if member_status not in (*MEMBER_STATUSES, "all"):
        raise bad(f"Invalid status: {member_status}")
    limit = _limit(params.get("limit"))
    order = sort_spec(request)
    preds = predicates(params, [t.strip() for t in q.getlist("tag")])
    everything = await all_images(runtime(request).objects)
    rows = [(obj, view(obj)) for obj in everything
            if listed(ctx, obj, visibility, member_status)]
    rows = [(obj, v) for obj, v in rows if all(p(obj, v) for p in preds)]
    marker = params.get("marker")
    if marker is not None:
        found = next((o for o in everything if o["metadata"]["name"] == marker), None)
        if found is None or not visible(ctx, found):
            raise bad(f"No image found with ID {marker}")
        if all(o is not found for o, _ in rows):
            rows.append((found, view(found)))
    for key, direction in reversed(order):
        rows.sort(key=lambda r, key=key: _sort_value(r[0], r[1], key), reverse=direction == "desc")
    if marker is not None:
        cut = next(i for i, (o, _) in enumerate(rows) if o["metadata"]["name"] == marker)
        rows = rows[cut + 1:]
    page = rows[:limit]
    body: dict[str, Any] = {"images": [v for _, v in page], "schema": "/v2/schemas/images"}
    rest = [(k, v) for k, v in q.multi_items() if k != "marker"]
    body["first"] = "/v2/images" + (f"?{urlencode(rest)}" if rest else "")
    if page and len(rows) > limit:
        body["next"] = "/v2/images?" + urlencode([*rest, ("marker", page[-1][1]["id"])])
    return JSONResponse(body)
