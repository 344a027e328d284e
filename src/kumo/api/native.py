"""The native resource API, after the Kubernetes API conventions.

``/apis/kumo.io/v1/namespaces/{ns}/{plural}[/{name}[/status]]`` for namespaced
kinds (namespace = project id), ``/apis/kumo.io/v1/{plural}[/{name}[/status]]``
for cluster-scoped ones. Spec and status are written separately: the main
resource ignores status, the status subresource ignores everything else.
Every write is compare-and-swap on resourceVersion; a merge patch without a
resourceVersion is re-applied to fresh data on conflict, so two writers patching
different keys of one map both win and neither is silently lost.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from kumo import store
from kumo.core import admission
from kumo.model import registry
from kumo.model.registry import API_VERSION, KindInfo
from kumo.store.objects import check_text, decode_continue
from kumo.store.selectors import parse_selector

from .auth import AuthContext, authenticate
from .common import actor_of, parse_json, query_int, read_body, read_json
from .errors import ApiError, from_store_error, handlers, k8s_status
from .runtime import runtime
from .writers import refused, wrote

MERGE_PATCH = "application/merge-patch+json"
PATCH_RETRIES = 100
MAX_LIST_LIMIT = 2**31  # a bound that keeps SQLite's LIMIT in range; negative is a 400
MAX_WATCH_SECONDS = 86400


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


# ---- resolution and policy ---------------------------------------------------
def _kind(request: Request) -> KindInfo:
    info = registry.by_plural(request.path_params["plural"])
    if info is None:
        raise ApiError(404, f"the server could not find the requested resource "
                            f"({request.path_params['plural']})", reason="NotFound")
    namespaced = "namespace" in request.path_params
    if namespaced and not info.namespaced:
        raise ApiError(404, f"{info.kind} is not namespaced", reason="NotFound")
    return info


async def _authorize(request: Request, info: KindInfo, write: bool) -> tuple[AuthContext, str]:
    """Who asks and in which namespace; a namespace not theirs is 404, not 403."""
    ctx = await authenticate(request)
    ns = request.path_params.get("namespace", "")
    if info.admin_only and not ctx.is_admin:
        raise ApiError(403, f"{info.plural} are admin-only", reason="Forbidden")
    if ns and not ctx.can_read_project(ns):
        raise ApiError(404, f"namespace {ns!r} not found", reason="NotFound")
    if write:
        request.state.actor = actor_of(ctx)
        admission.admit_write(request.state.actor, info, ns)
    return ctx, ns


def _json(obj: Any, status: int = 200) -> Response:
    return JSONResponse(obj, status_code=status)


# ---- discovery ---------------------------------------------------------------
async def api_groups(request: Request) -> Response:
    gv = {"groupVersion": API_VERSION, "version": registry.VERSION}
    return _json({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": registry.GROUP, "versions": [gv], "preferredVersion": gv}]})


async def api_resources(request: Request) -> Response:
    resources = []
    for info in registry.all_kinds():
        resources.append({
            "name": info.plural, "singularName": info.singular, "namespaced": info.namespaced,
            "kind": info.kind, "shortNames": list(info.short_names),
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
        resources.append({"name": f"{info.plural}/status", "singularName": "",
                          "namespaced": info.namespaced, "kind": info.kind,
                          "verbs": ["get", "patch", "update"]})
    return _json({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": API_VERSION,
                  "resources": resources})


# ---- collection --------------------------------------------------------------
async def collection(request: Request) -> Response:
    info = _kind(request)
    if request.method == "POST":
        return await _create(request, info)
    ctx, ns = await _authorize(request, info, write=False)
    scope: str | None = ns if (ns or not info.namespaced) else None
    if info.namespaced and scope is None and not ctx.is_admin:
        scope = ctx.project_id or "\0"
    selector = request.query_params.get("labelSelector")
    if request.query_params.get("watch") in ("1", "true"):
        return await _watch(request, info, scope, selector)
    listed = await runtime(request).objects.list(
        info.kind, scope, label_selector=selector,
        limit=query_int(request, "limit", maximum=MAX_LIST_LIMIT) or 0,
        continue_token=_continue_token(request))
    md: dict[str, Any] = {"resourceVersion": str(listed.resource_version)}
    if listed.continue_token:
        md["continue"] = listed.continue_token
    return _json({"apiVersion": API_VERSION, "kind": f"{info.kind}List", "metadata": md,
                  "items": listed.items})


def _continue_token(request: Request) -> str | None:
    """The ``continue`` parameter, refused (422) unless it decodes to a storable position."""
    token = request.query_params.get("continue") or None
    if token is not None:
        check_text(list(decode_continue(token)))
    return token


async def _create(request: Request, info: KindInfo) -> Response:
    _, ns = await _authorize(request, info, write=True)
    body = await read_json(request)
    body.setdefault("apiVersion", API_VERSION)
    if body.setdefault("kind", info.kind) != info.kind:
        raise ApiError(400, f"kind {body['kind']!r} does not match {info.plural}",
                       reason="BadRequest")
    md = body.setdefault("metadata", {})
    if not isinstance(md, dict):
        raise ApiError(422, "metadata must be an object", reason="Invalid")
    if md.get("namespace") not in (None, "", ns):
        raise ApiError(400, "metadata.namespace does not match the request path",
                       reason="BadRequest")
    md["namespace"] = ns
    if not md.get("name"):
        if not md.get("generateName"):
            raise ApiError(422, "metadata.name or metadata.generateName is required",
                           reason="Invalid")
        md["name"] = md["generateName"] + secrets.token_hex(3)
    body.pop("status", None)
    _validate(body)
    admission.admit_object(request.state.actor, body)
    return _json(wrote(request, await runtime(request).objects.create(body)), 201)


MAX_LABEL_KEY, MAX_LABEL_VALUE, MAX_ANNOTATIONS = 317, 255, 256 * 1024  # after Kubernetes
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")


def _validate_meta(md: dict[str, Any]) -> None:
    name = md.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 253 or "/" in name:
        raise ApiError(422, "metadata.name must be 1-253 characters without '/'",
                       reason="Invalid")
    for field in ("labels", "annotations"):
        val = md.get(field)
        if val is not None and not (isinstance(val, dict)
                                    and all(isinstance(v, str) for v in val.values())):
            raise ApiError(422, f"metadata.{field} must map strings to strings",
                           reason="Invalid")
        if any(len(k) > MAX_LABEL_KEY for k in val or {}):
            raise ApiError(422, f"metadata.{field} keys are at most {MAX_LABEL_KEY} characters",
                           reason="Invalid")
    if any(len(v) > MAX_LABEL_VALUE for v in (md.get("labels") or {}).values()):
        raise ApiError(422, f"metadata.labels values are at most {MAX_LABEL_VALUE} characters",
                       reason="Invalid")
    if sum(len(k) + len(v) for k, v in (md.get("annotations") or {}).items()) > MAX_ANNOTATIONS:
        raise ApiError(422, "metadata.annotations may hold at most 256 KiB", reason="Invalid")
    fins = md.get("finalizers")
    if fins is not None and not (isinstance(fins, list) and all(isinstance(f, str) for f in fins)):
        raise ApiError(422, "metadata.finalizers must be a list of strings", reason="Invalid")


def _meta_of(body: dict[str, Any]) -> dict[str, Any]:
    md = body.get("metadata") or {}
    if not isinstance(md, dict):
        raise ApiError(422, "metadata must be an object", reason="Invalid")
    return md


def _validate(obj: dict[str, Any]) -> None:
    """Metadata bounds, ConfigMap keys as Kubernetes spells them, then the typed model."""
    _validate_meta(obj["metadata"])
    if obj.get("kind") == "ConfigMap":
        data = obj.get("data")
        if isinstance(data, dict) and not all(isinstance(k, str) and _DATA_KEY.match(k)
                                              for k in data):
            raise ApiError(422, "ConfigMap data keys are 1-253 characters of [-._a-zA-Z0-9]",
                           reason="Invalid")
    admission.validate(obj)


# ---- one object --------------------------------------------------------------
async def item(request: Request) -> Response:
    info = _kind(request)
    write = request.method != "GET"
    _, ns = await _authorize(request, info, write=write)
    name = request.path_params["name"]
    objects = runtime(request).objects
    sub = request.path_params.get("sub")
    if sub not in (None, "status"):
        raise ApiError(404, f"no subresource {sub!r}", reason="NotFound")
    status_only = sub == "status"
    if request.method == "GET":
        return _json(await objects.get(info.kind, ns, name))
    if request.method == "DELETE":
        if status_only:
            raise ApiError(405, "cannot delete a status subresource", reason="MethodNotAllowed")
        rv = None
        raw = await read_body(request)
        if raw.strip():
            opts = parse_json(raw)
            try:
                rv = int(opts.get("preconditions", {}).get("resourceVersion") or 0) or None
            except (ValueError, AttributeError, TypeError) as exc:
                raise ApiError(400, "malformed DeleteOptions", reason="BadRequest") from exc
        return _json(await objects.delete(info.kind, ns, name, expected_rv=rv))
    body = await read_json(request)
    if request.method == "PUT":
        return _json(await _replace(request, info, ns, name, body, status_only))
    if request.method == "PATCH":
        ctype = request.headers.get("content-type", "").split(";")[0].strip()
        if ctype not in (MERGE_PATCH, "application/strategic-merge-patch+json",
                         "application/json"):
            raise ApiError(415, f"unsupported patch type {ctype!r}; use {MERGE_PATCH}",
                           reason="UnsupportedMediaType")
        return _json(await _patch(request, info, ns, name, body, status_only))
    raise ApiError(405, "method not allowed", reason="MethodNotAllowed")


def _apply_scope(current: dict[str, Any], desired: dict[str, Any], status_only: bool
                 ) -> dict[str, Any]:
    """Keep the half of the object this endpoint may not write."""
    if status_only:
        out = copy.deepcopy(current)
        if "status" in desired:
            out["status"] = desired["status"]
        else:
            out.pop("status", None)
        out["metadata"]["resourceVersion"] = (desired.get("metadata") or {}).get(
            "resourceVersion", current["metadata"]["resourceVersion"])
        return out
    out = copy.deepcopy(desired)
    if "status" in current:
        out["status"] = copy.deepcopy(current["status"])
    else:
        out.pop("status", None)
    return out


async def _replace(request: Request, info: KindInfo, ns: str, name: str,
                   body: dict[str, Any], status_only: bool) -> dict[str, Any]:
    md = _meta_of(body)
    if md.get("name", name) != name or body.get("kind", info.kind) != info.kind:
        raise ApiError(400, "name and kind in the body must match the path", reason="BadRequest")
    if not md.get("resourceVersion"):
        raise ApiError(422, "metadata.resourceVersion must be specified for an update",
                       reason="Invalid")
    objects = runtime(request).objects
    current = await objects.get(info.kind, ns, name)
    body = {**body, "kind": info.kind, "apiVersion": API_VERSION,
            "metadata": {**md, "name": name, "namespace": ns}}
    new = _apply_scope(current, body, status_only)
    _validate(new)
    admission.admit_object(request.state.actor, new, current)
    try:
        return wrote(request, await objects.update(new))
    except store.Conflict:
        await refused(request, info.kind, ns, name, md.get("resourceVersion"))
        raise


async def _patch(request: Request, info: KindInfo, ns: str, name: str,
                 patch: dict[str, Any], status_only: bool) -> dict[str, Any]:
    """A merge patch: pinned to the resourceVersion it names, else re-applied to fresh data
    on conflict (two writers patching different keys of one map both keep theirs)."""
    objects = runtime(request).objects
    pinned = _meta_of(patch).get("resourceVersion")

    def apply(current: dict[str, Any]) -> dict[str, Any]:
        desired = merge_patch(current, patch)
        desired["metadata"]["name"], desired["metadata"]["namespace"] = name, ns
        desired["kind"], desired["apiVersion"] = info.kind, API_VERSION
        new = _apply_scope(current, desired, status_only)
        new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        _validate(new)
        admission.admit_object(request.state.actor, new, current)
        return new

    if pinned:
        current = await objects.get(info.kind, ns, name)
        new = apply(current)
        new["metadata"]["resourceVersion"] = pinned
        try:
            return wrote(request, await objects.update(new))
        except store.Conflict:
            await refused(request, info.kind, ns, name, pinned)
            raise
    try:
        return wrote(request, await objects.mutate(info.kind, ns, name, apply,
                                                   attempts=PATCH_RETRIES))
    except store.Conflict:
        raise ApiError(409, "too many concurrent writers; try again", reason="Conflict") from None


# ---- watch -------------------------------------------------------------------
async def _watch(request: Request, info: KindInfo, namespace: str | None,
                 selector: str | None) -> Response:
    objects = runtime(request).objects
    match = parse_selector(selector)
    rv_param = request.query_params.get("resourceVersion")
    timeout = query_int(request, "timeoutSeconds", maximum=MAX_WATCH_SECONDS)
    bookmarks = request.query_params.get("allowWatchBookmarks") in ("1", "true")
    initial: list[dict[str, Any]] = []
    if rv_param in (None, "", "0"):
        listed = await objects.list(info.kind, namespace, label_selector=selector)
        initial, start = listed.items, listed.resource_version
    else:
        start = query_int(request, "resourceVersion", maximum=2**62) or 0
    # shared: the hub's events, encoded once for every stream that sends them
    stream = objects.watch(info.kind, namespace, start, label_selector=selector, shared=True)

    async def body() -> AsyncIterator[bytes]:
        for obj in initial:
            yield _line("ADDED", obj)
        try:
            async for ev in stream:
                if ev.type == "BOOKMARK":
                    if bookmarks:
                        yield _line("BOOKMARK", {"kind": info.kind, "apiVersion": API_VERSION,
                                                 "metadata": {"resourceVersion": str(ev.revision)}})
                    continue
                labels = (ev.object or {}).get("metadata", {}).get("labels") or {}
                if match(labels):
                    yield ev.encoded(_line)
        except store.Gone as exc:
            yield _line("ERROR", k8s_status(from_store_error(exc)))
        finally:
            await stream.aclose()

    async def bounded() -> AsyncIterator[bytes]:
        gen = body()
        try:
            if timeout:
                async with asyncio.timeout(timeout):
                    async for chunk in gen:
                        yield chunk
            else:
                async for chunk in gen:
                    yield chunk
        except TimeoutError:
            return
        finally:
            await gen.aclose()

    return StreamingResponse(bounded(), media_type="application/json",
                             headers={"Transfer-Encoding": "chunked"})


def _line(typ: str, obj: Any) -> bytes:
    return json.dumps({"type": typ, "object": obj}, separators=(",", ":")).encode() + b"\n"


def build_app() -> Starlette:
    """The sub-application mounted at /apis; errors are Kubernetes Status objects."""
    verbs = ["GET", "PUT", "PATCH", "DELETE"]
    base = "/kumo.io/v1"
    routes = [
        Route("/", api_groups), Route(base, api_resources),
        Route(base + "/namespaces/{namespace}/{plural}", collection, methods=["GET", "POST"]),
        Route(base + "/namespaces/{namespace}/{plural}/{name}", item, methods=verbs),
        Route(base + "/namespaces/{namespace}/{plural}/{name}/{sub:str}", item, methods=verbs),
        Route(base + "/{plural}", collection, methods=["GET", "POST"]),
        Route(base + "/{plural}/{name}", item, methods=verbs),
        Route(base + "/{plural}/{name}/{sub:str}", item, methods=verbs),
    ]
    return Starlette(routes=routes, exception_handlers=handlers(k8s_status, invalid_status=422))
