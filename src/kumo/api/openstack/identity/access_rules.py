"""Access rules of application credentials (``/v3/users/{id}/access_rules``).

A rule is (service type, path pattern, method), kept per user and shared by that user's
credentials (the same triple is the same rule, named from its hash). A token from a
credential with rules may call only what one of them matches; ``kumo.core.identity
.access_allowed`` decides and ``api/auth.py`` enforces it on every face. A rule still used
by a credential cannot be deleted (403).
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import identity as m

from ...auth import authenticate
from ...errors import ApiError
from ...runtime import Runtime, runtime
from .views import collection, links

Obj = dict[str, Any]
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _rule_id(user_id: str, service: str, path: str, method: str) -> str:
    return hashlib.sha256(f"{user_id}\0{service}\0{path}\0{method}".encode()).hexdigest()[:32]


def view(rule: Obj) -> Obj:
    return {"id": rule["id"], "service": rule["service"], "path": rule["path"],
            "method": rule["method"]}


async def resolve(rt: Runtime, user_id: str, wanted: Any) -> list[Obj]:
    """The stored rules for a credential's ``access_rules`` (created when new)."""
    if wanted is None:
        return []
    if not isinstance(wanted, list) or len(wanted) > 64:
        raise ApiError(400, "Invalid input for field 'access_rules': a list (at most 64).")
    out = []
    for r in wanted:
        if isinstance(r, dict) and set(r) == {"id"}:
            got = await rt.objects.try_get(m.ACCESS_RULE, "", str(r["id"]))
            if got is None or got["spec"].get("userId") != user_id:
                raise ApiError(404, f"Could not find access rule: {r['id']}.")
            out.append({"id": r["id"], **{k: got["spec"][k] for k in
                                          ("service", "path", "method")}})
            continue
        out.append(await _ensure(rt, user_id, r))
    return out


async def _ensure(rt: Runtime, user_id: str, r: Any) -> Obj:
    if not isinstance(r, dict) or not all(isinstance(r.get(k), str) and r[k]
                                          for k in ("service", "path", "method")):
        raise ApiError(400, "Invalid input for field 'access_rules': each rule needs "
                            "'service', 'path' and 'method'.")
    if r["method"] not in METHODS or not r["path"].startswith("/") or len(r["path"]) > 225:
        raise ApiError(400, "Invalid input for field 'access_rules': a method among "
                            f"{METHODS} and an absolute path.")
    rid = _rule_id(user_id, r["service"], r["path"], r["method"])
    spec = {"userId": user_id, "service": r["service"], "path": r["path"],
            "method": r["method"]}
    try:
        await rt.objects.create(m.obj(m.ACCESS_RULE, rid, spec, {"user": user_id}))
    except store.AlreadyExists:
        pass
    return {"id": rid, **{k: spec[k] for k in ("service", "path", "method")}}


async def owner(request: Request) -> str:
    """The path's user id, for that user or an admin; anyone else finds no such user (its
    access rules and application credentials are not theirs to see)."""
    ctx = await authenticate(request)
    uid = request.path_params["id"]
    if uid != ctx.user_id and not ctx.is_admin:
        raise ApiError(404, f"Could not find user: {uid}.")
    return uid


def _listed(request: Request, uid: str, o: Obj) -> Obj:
    rid = o["metadata"]["name"]
    return {**view({"id": rid, **o["spec"]}),
            "links": links(request, f"users/{uid}/access_rules/{rid}")}


async def access_rules(request: Request) -> Response:
    uid = await owner(request)
    items = (await runtime(request).objects.list(m.ACCESS_RULE, "",
                                                 label_selector=f"user={uid}")).items
    return collection(request, "access_rules", [_listed(request, uid, o) for o in items])


async def access_rule(request: Request) -> Response:
    uid = await owner(request)
    rt = runtime(request)
    rid = request.path_params["rule"]
    obj = await rt.objects.try_get(m.ACCESS_RULE, "", rid)
    if obj is None or obj["spec"].get("userId") != uid:
        raise ApiError(404, f"Could not find access rule: {rid}.")
    if request.method == "GET":
        return JSONResponse({"access_rule": _listed(request, uid, obj)})
    creds = (await rt.objects.list(m.APP_CREDENTIAL, "", label_selector=f"user={uid}")).items
    if any(r.get("id") == rid for c in creds for r in c["spec"].get("accessRules") or []):
        raise ApiError(403, f"Access rule {rid} is still used by an application credential.")
    await rt.objects.delete(m.ACCESS_RULE, "", rid)
    return Response(status_code=204)
