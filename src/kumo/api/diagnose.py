"""``/diagnose/v1``: the API of ``kumo trace`` and ``kumo doctor`` (Kubernetes Status errors).

- ``GET /diagnose/v1/trace/{kind}/{object_id}`` (kind: a plural, ``servers``): the step timeline of one server, port or
  network (``kumo.core.trace``; a kind registered there is served here too). Admins find
  the object in any project; members only in their own, with host names hashed as Nova
  shows them (``hostId``).
- ``GET /diagnose/v1/doctor?scope=project:ID|host:NAME|KIND/ID&set=KEY=VALUE``: every
  invariant check (``kumo.doctor``, wired into the runtime by the server), thresholds
  changed by ``set`` (repeatable, ``kumo.doctor.snapshot.SETTINGS``); admins only.

Both go through ``core.admission.admit_diagnosis``, the one rule for who may see what.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kumo.core import admission, trace

from .auth import authenticate
from .common import actor_of
from .errors import ApiError, handlers, k8s_status
from .runtime import runtime

Obj = dict[str, Any]


def _hashed(project: str, host: str | None) -> str | None:
    return hashlib.sha224((project + host).encode()).hexdigest()[:12] if host else host


def _redact(tr: Obj, project: str) -> Obj:
    """A member sees which step ran where as a stable hash, never the host's name."""
    for s in tr["steps"]:
        host = s.get("host")
        if host:
            s["component"] = s["component"].replace(host, _hashed(project, host) or "")
            s["message"] = s["message"].replace(host, _hashed(project, host) or "")
        s["host"] = _hashed(project, host)
    for w in tr["waiting"]:
        for k in ("waiter", "on"):
            comp, at, host = w[k].partition("@")
            w[k] = comp + (at + (_hashed(project, host) or "") if at else "")
            if at:
                w["what"] = w["what"].replace(host, _hashed(project, host) or "")
    return tr


async def trace_endpoint(request: Request) -> Response:
    ctx = await authenticate(request)
    actor = actor_of(ctx)
    plural, name = request.path_params["kind"], request.path_params["object_id"]
    if plural not in trace.TRACERS:
        raise ApiError(404, f"no trace for {plural!r}; traced: {sorted(trace.TRACERS)}",
                       reason="NotFound")
    namespace = request.query_params.get("namespace") or None
    if not ctx.is_admin:
        namespace = namespace or ctx.project_id or ""
    admission.admit_diagnosis(actor, "trace", namespace if not ctx.is_admin else None)
    tr = await trace.trace(runtime(request).objects, plural, name, namespace)
    if not ctx.is_admin:
        tr = _redact(tr, ctx.project_id or "")
    return JSONResponse(tr)


async def doctor_endpoint(request: Request) -> Response:
    ctx = await authenticate(request)
    admission.admit_diagnosis(actor_of(ctx), "doctor", None)
    doctor = runtime(request).doctor
    if doctor is None:
        raise ApiError(503, "this API process runs no doctor", reason="ServiceUnavailable")
    try:
        report = await doctor.run(request.query_params.get("scope") or None,
                                  request.query_params.getlist("set"))
    except ValueError as exc:
        raise ApiError(400, str(exc), reason="BadRequest") from None
    return JSONResponse(report)


def build_app() -> Starlette:
    return Starlette(routes=[
        Route("/v1/trace/{kind}/{object_id}", trace_endpoint),
        Route("/v1/doctor", doctor_endpoint)],
        exception_handlers=handlers(k8s_status, invalid_status=422))
