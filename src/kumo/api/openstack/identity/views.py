"""Keystone JSON views and the lookups every identity handler shares."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store

from ...errors import ApiError
from ...runtime import Runtime, runtime

_LABEL_SAFE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")


def label_value(name: str) -> str:
    """A label-safe form of a user-chosen name (exact match is re-checked in Python)."""
    low = name.lower()
    return low if _LABEL_SAFE.match(low) else "h-" + hashlib.sha256(low.encode()).hexdigest()[:40]


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def base(request: Request) -> str:
    return runtime(request).config.base_url + "/v3"


def links(request: Request, path: str) -> dict[str, str]:
    return {"self": f"{base(request)}/{path}"}


def collection(request: Request, key: str, items: list[dict[str, Any]]) -> Response:
    """A Keystone listing: the items under ``key`` and (one page) links."""
    return JSONResponse({key: items, "links": {"self": str(request.url), "next": None,
                                               "previous": None}})


def domain_view(request: Request, d: dict[str, Any]) -> dict[str, Any]:
    did, s = d["metadata"]["name"], d["spec"]
    return {"id": did, "name": s["name"], "description": s.get("description", ""),
            "enabled": s.get("enabled", True), "tags": s.get("tags", []),
            "options": {}, "links": links(request, f"domains/{did}")}


def project_view(request: Request, p: dict[str, Any]) -> dict[str, Any]:
    pid, s = p["metadata"]["name"], p["spec"]
    return {"id": pid, "name": s["name"], "domain_id": s["domainId"],
            "description": s.get("description", ""), "enabled": s.get("enabled", True),
            "parent_id": s.get("parentId") or s["domainId"], "is_domain": False, "tags": s.get("tags", []),
            "options": {}, "links": links(request, f"projects/{pid}")}


def domain_project_view(request: Request, d: dict[str, Any]) -> dict[str, Any]:
    """A domain as the project Keystone keeps for it (``is_domain``)."""
    did, s = d["metadata"]["name"], d["spec"]
    return {"id": did, "name": s["name"], "domain_id": None, "parent_id": None,
            "description": s.get("description", ""), "enabled": s.get("enabled", True),
            "is_domain": True, "tags": [], "options": {}, "links": links(request,
                                                                         f"projects/{did}")}


def user_view(request: Request, u: dict[str, Any]) -> dict[str, Any]:
    uid, s = u["metadata"]["name"], u["spec"]
    out = {**{k: v for k, v in (s.get("extra") or {}).items() if isinstance(k, str)},
           "id": uid, "name": s["name"], "domain_id": s["domainId"],
           "enabled": s.get("enabled", True), "password_expires_at": None, "options": {},
           "links": links(request, f"users/{uid}")}
    for src, dst in (("email", "email"), ("description", "description"),
                     ("defaultProjectId", "default_project_id")):
        if s.get(src) is not None:
            out[dst] = s[src]
    return out


def role_view(request: Request, r: dict[str, Any]) -> dict[str, Any]:
    rid, s = r["metadata"]["name"], r["spec"]
    return {"id": rid, "name": s["name"], "domain_id": s.get("domainId"),
            "description": s.get("description"), "options": {},
            "links": links(request, f"roles/{rid}")}


def group_view(request: Request, g: dict[str, Any]) -> dict[str, Any]:
    gid, s = g["metadata"]["name"], g["spec"]
    return {"id": gid, "name": s["name"], "domain_id": s["domainId"],
            "description": s.get("description", ""), "links": links(request, f"groups/{gid}")}


def catalog(rt: Runtime) -> list[dict[str, Any]]:
    out = []
    for svc in rt.catalog:
        url = rt.endpoint_url(svc)
        out.append({"id": svc.id, "type": svc.type, "name": svc.name, "endpoints": [
            {"id": f"{svc.id[:24]}{i:08x}", "interface": iface, "region": rt.config.region,
             "region_id": rt.config.region, "url": url}
            for i, iface in enumerate(("public", "internal", "admin"))]})
    return out


async def get_obj(request: Request, kind: str, oid: str, what: str) -> dict[str, Any]:
    obj = await runtime(request).objects.try_get(kind, "", oid)
    if obj is None:
        raise ApiError(404, f"Could not find {what}: {oid}.")
    return obj


async def find_by_name(rt: Runtime, kind: str, name: str, domain_id: str | None = None
                       ) -> dict[str, Any] | None:
    sel = f"name={label_value(name)}"
    if domain_id is not None:
        sel += f",domain={domain_id}"
    for obj in (await rt.objects.list(kind, "", label_selector=sel)).items:
        if obj["spec"]["name"] == name:
            return obj
    return None


async def list_kind(rt: Runtime, kind: str) -> list[dict[str, Any]]:
    return (await rt.objects.list(kind, "")).items


def labels_for(name: str, domain_id: str | None = None) -> dict[str, str]:
    out = {"name": label_value(name)}
    if domain_id is not None:
        out["domain"] = domain_id
    return out


async def save(rt: Runtime, obj: dict[str, Any]) -> dict[str, Any]:
    try:
        return await rt.objects.update(obj)
    except store.Conflict as exc:
        raise ApiError(409, "The resource was changed concurrently; retry.") from exc
