"""Role grants, role assignment listing, application credentials, catalog listings."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import passwords
from kumo.model import identity as m

from ...auth import authenticate
from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime
from . import access_rules as ar
from . import body as b
from .unique import create_named, delete_named
from .views import labels_for


def _naive_iso(ts: float | None) -> str | None:
    """Keystone renders an application credential's expiry as a naive UTC ISO time."""
    if ts is None:
        return None
    return datetime.fromtimestamp(float(ts), UTC).replace(tzinfo=None).isoformat()


# ---- application credentials -----------------------------------------------------
def _cred_view(request: Request, c: dict[str, Any], secret: str | None = None
               ) -> dict[str, Any]:
    s = c["spec"]
    out = {"id": c["metadata"]["name"], "name": s["name"], "description": s.get("description"),
           "user_id": s["userId"], "project_id": s["projectId"], "roles": s["roles"],
           "expires_at": _naive_iso(s.get("expiresAt")), "unrestricted": s.get("unrestricted", False),
           "access_rules": [ar.view(r) for r in s.get("accessRules") or []], "links": {"self": f"{runtime(request).config.base_url}/v3/users/"
                                                 f"{s['userId']}/application_credentials/"
                                                 f"{c['metadata']['name']}"}}
    if secret is not None:
        out["secret"] = secret
    return out


async def app_creds(request: Request) -> Response:
    rt = runtime(request)
    uid = await ar.owner(request)
    ctx = await authenticate(request)
    if request.method == "POST":
        if ctx.app_cred_id:
            raise ApiError(403, "An application credential cannot create another one.")
        if uid != ctx.user_id or not ctx.project_id:
            raise ApiError(403, "Application credentials are created with a project-scoped "
                                "token of their owner.")
        c = b.parse(b.AppCredBody, await read_json(request), "application_credential")
        have = {rid: name for rid, name in ctx.roles}
        if c.roles:
            wanted = []
            for r in c.roles:
                rid = r.get("id") or next((i for i, n in have.items() if n == r.get("name")),
                                          None)
                if rid not in have:
                    raise ApiError(403, "You may only delegate roles you hold on the project.")
                wanted.append({"id": rid, "name": have[rid], "domain_id": None})
        else:
            wanted = [{"id": i, "name": n, "domain_id": None} for i, n in have.items()]
        exp = None
        if c.expires_at:
            try:
                when = datetime.fromisoformat(c.expires_at.replace("Z", "+00:00"))
                exp = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
            except ValueError as exc:
                raise ApiError(400, "Invalid input for field 'expires_at'.") from exc
        secret = c.secret or secrets.token_urlsafe(48)
        rules = await ar.resolve(rt, uid, c.access_rules)
        obj = await create_named(rt, m.obj(m.APP_CREDENTIAL, m.new_id(), {
            "accessRules": rules,
            "name": c.name, "userId": uid, "projectId": ctx.project_id,
            "secretHash": await passwords.hash_async(secret), "roles": wanted, "expiresAt": exp,
            "unrestricted": c.unrestricted, "description": c.description},
            {**labels_for(c.name), "user": uid}), "application credential")
        return JSONResponse({"application_credential": _cred_view(request, obj, secret)},
                            status_code=201)
    items = (await rt.objects.list(m.APP_CREDENTIAL, "", label_selector=f"user={uid}")).items
    if request.query_params.get("name"):
        items = [i for i in items if i["spec"]["name"] == request.query_params["name"]]
    return JSONResponse({"application_credentials": [_cred_view(request, i) for i in items],
                         "links": {"self": str(request.url)}})


async def app_cred(request: Request) -> Response:
    rt = runtime(request)
    uid = await ar.owner(request)
    cid = request.path_params["cred"]
    obj = await rt.objects.try_get(m.APP_CREDENTIAL, "", cid)
    if obj is None or obj["spec"]["userId"] != uid:
        raise ApiError(404, f"Could not find application credential: {cid}.")
    if request.method == "DELETE":
        await delete_named(rt, obj)
        rt.tokens.invalidate()
        return Response(status_code=204)
    return JSONResponse({"application_credential": _cred_view(request, obj)})
