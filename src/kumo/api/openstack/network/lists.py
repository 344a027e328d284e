"""Neutron's list query over views: filters, tags, sort keys, marker pagination with
links, and field selection (``?fields=``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse

from .errors import bad_request

Obj = dict[str, Any]
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
            # ip-substring-filtering: fixed_ips=ip_address_substr=10.0.0.
            if sep and k.endswith("_substr") and v in str(value.get(k[:-7], "")):
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


def _filter(params: Any, views: list[Obj], known: set[str],
            skip: tuple[str, ...] = ()) -> list[Obj]:
    for key in set(params.keys()) - _CONTROL - set(skip):
        if views and key not in known:
            raise bad_request(f"['{key}'] is invalid attribute for filtering")
        wanted = params.getlist(key)
        views = [v for v in views if _match(v.get(key), wanted)]
    projects = params.getlist("project_id") + params.getlist("tenant_id")
    if projects:
        views = [v for v in views if v.get("project_id") in projects]
    if any(params.getlist(k) for k in ("tags", "tags-any", "not-tags", "not-tags-any")):
        views = [v for v in views if _tags_ok(set(v.get("tags") or []), params)]
    return views


def _sort(params: Any, views: list[Obj], known: set[str], reverse_page: bool) -> None:
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
    if order:  # without sort keys: the callers' order (creation), stable for markers
        order.append(("id", "asc"))
    elif reverse_page:
        views.reverse()
    for key, direction in reversed(order):
        views.sort(key=lambda v, k=key: _sort_value(v.get(k)),
                   reverse=(direction == "desc") != reverse_page)


def _limit(raw: str | None) -> int:
    try:
        limit = int(raw) if raw not in (None, "") else 0
    except ValueError as exc:
        raise bad_request(f"Limit must be an integer 0 or greater and not '{raw}'") from exc
    if limit < 0:
        raise bad_request(f"Limit must be an integer 0 or greater and not '{raw}'")
    return limit


def _links(request: Request, views: list[Obj], more: bool, reverse_page: bool) -> list[Obj]:
    params = request.query_params
    marker = params.get("marker")
    url = str(request.url.replace(query=""))

    def href(mark: str, rev: bool) -> str:
        q = [*[(k, v) for k, v in params.multi_items()
               if k not in ("marker", "page_reverse")], ("marker", mark)]
        if rev:
            q.append(("page_reverse", "True"))
        return f"{url}?{urlencode(q)}"

    links: list[Obj] = []
    if (more if not reverse_page else bool(marker)):
        links.append({"rel": "next", "href": href(views[-1]["id"], False)})
    if (bool(marker) if not reverse_page else more):
        links.append({"rel": "previous", "href": href(views[0]["id"], True)})
    return links


def _page(request: Request, views: list[Obj], reverse_page: bool) -> tuple[list[Obj], list[Obj]]:
    """(the page, its next/previous links) for ``limit``/``marker``."""
    params = request.query_params
    limit_raw, marker = params.get("limit"), params.get("marker")
    if limit_raw is None and not marker:
        return views, []
    limit = _limit(limit_raw)
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
    links = _links(request, page, more, reverse_page) if page and limit else []
    return page, links


def shown(request: Request, key: str, view: Obj) -> JSONResponse:
    """One resource's answer, ``?fields=`` applied."""
    return JSONResponse({key: select_fields(view, fields_of(request))})


def listed(request: Request, collection: str, view: Callable[[Obj], Obj],
           objs: list[Obj]) -> JSONResponse:
    """A collection's answer: ``objs`` oldest first, as views, through the list query."""
    return JSONResponse(list_response(request, collection,
                                      [view(o) for o in by_creation(objs)]))


def list_response(request: Request, collection: str, views: list[Obj],
                  skip: tuple[str, ...] = ()) -> Obj:
    """Neutron's list query over views: filters, tags, sort, marker pagination, fields
    (``skip``: query keys the caller has applied itself)."""
    params = request.query_params
    known = set().union(*(v.keys() for v in views)) if views else set()
    views = _filter(params, views, known, skip)
    reverse_page = (params.get("page_reverse") or "").lower() == "true"
    _sort(params, views, known, reverse_page)
    views, links = _page(request, views, reverse_page)
    fields = fields_of(request)
    out: Obj = {collection: [select_fields(v, fields) for v in views]}
    if links:
        out[collection + "_links"] = links
    return out
