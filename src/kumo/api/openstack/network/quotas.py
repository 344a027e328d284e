"""Quotas: /v2.0/quotas — defaults, per-project overrides (QuotaSet "network"), usage.

Usage is counted, never stored. router and floatingip are reported (kumo has
neither yet) but not enforced.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import compute as cm
from kumo.model import network as nm

from ...runtime import runtime
from .common import Caller, body_of, caller, quota_limits, usage
from .errors import bad_request, invalid, policy

Obj = dict[str, Any]
MAX_QUOTA = 0x7FFFFFFF


def _readable(c: Caller, project: str) -> None:
    if not c.is_admin and project != c.project_id:
        raise policy("get_quota")


async def index(request: Request) -> Response:
    c = await caller(request)
    if not c.is_admin:
        raise policy("get_quota")
    rt = runtime(request)
    out = []
    for qs in (await rt.objects.list(cm.QUOTA_SET, None)).items:
        if qs["metadata"]["name"] != nm.QUOTA_NAME:
            continue
        pid = qs["metadata"]["namespace"]
        out.append({**await quota_limits(rt, pid), "project_id": pid, "tenant_id": pid})
    return JSONResponse({"quotas": out})


async def show(request: Request) -> Response:
    c = await caller(request)
    project = request.path_params["project_id"]
    _readable(c, project)
    return JSONResponse({"quota": await quota_limits(runtime(request), project)})


async def details(request: Request) -> Response:
    c = await caller(request)
    project = request.path_params["project_id"]
    _readable(c, project)
    rt = runtime(request)
    limits = await quota_limits(rt, project)
    return JSONResponse({"quota": {k: {"limit": v, "used": await usage(rt, project, k),
                                       "reserved": 0} for k, v in limits.items()}})


async def defaults(request: Request) -> Response:
    c = await caller(request)
    _readable(c, request.path_params["project_id"])
    return JSONResponse({"quota": dict(nm.QUOTA_DEFAULTS)})


async def update(request: Request) -> Response:
    c = await caller(request)
    data = await body_of(request, "quota")
    if not c.is_admin:
        raise policy("update_quota")
    extra = sorted(set(data) - set(nm.QUOTA_DEFAULTS) - {"force", "check_limit"})
    if extra:
        raise bad_request("Unrecognized attribute(s) '" + ", ".join(extra) + "'")
    values: dict[str, int] = {}
    for k, v in data.items():
        if k in ("force", "check_limit"):
            continue
        try:
            if isinstance(v, bool):
                raise ValueError
            n = int(v)
        except (TypeError, ValueError) as exc:
            raise invalid(f"Invalid input for {k}. Reason: '{v}' is not an integer.") from exc
        if not -1 <= n <= MAX_QUOTA:
            raise invalid(f"Invalid input for {k}. Reason: '{v}' should be greater than or "
                          "equal to -1.")
        values[k] = n
    project = request.path_params["project_id"]
    rt = runtime(request)
    await _write_quota(rt.objects, project, values)
    return JSONResponse({"quota": await quota_limits(rt, project)})


async def _write_quota(objects: store.ObjectStore, project: str, values: dict[str, int]) -> None:
    """Merge ``values`` into the project's QuotaSet, made on first write (store.mutate)."""
    def merge(obj: Obj) -> None:
        obj["spec"] = {**(obj.get("spec") or {}), **values}

    try:
        await objects.mutate(cm.QUOTA_SET, project, nm.QUOTA_NAME, merge)
    except store.NotFound:
        try:
            await objects.create({"apiVersion": "kumo.io/v1", "kind": cm.QUOTA_SET,
                                  "metadata": {"name": nm.QUOTA_NAME, "namespace": project},
                                  "spec": values})
        except store.AlreadyExists:  # a concurrent first write won: merge into it
            await objects.mutate(cm.QUOTA_SET, project, nm.QUOTA_NAME, merge)


async def delete(request: Request) -> Response:
    c = await caller(request)
    if not c.is_admin:
        raise policy("delete_quota")
    try:
        await runtime(request).objects.delete(cm.QUOTA_SET, request.path_params["project_id"],
                                              nm.QUOTA_NAME)
    except store.NotFound:
        pass
    return Response(status_code=204)
