"""Quotas: defaults, per-project overrides (QuotaSet "compute"), usage, /limits.

Usage of instances, cores, ram and server groups is the project's counted claims
(``kumo.core.quotas``: a server or group is claimed by one CAS on the project's
QuotaUsage before it is written, released when it is deleted), so racing creates
never pass a limit; the user's keypairs are counted by listing. A project's limits
are the defaults overridden by its QuotaSet object, which only an admin writes
(PUT /os-quota-sets/{project}).
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.core import quotas
from kumo.model import compute as cm

from ...auth import AuthContext
from ...runtime import runtime
from .common import (
    bad,
    body_of,
    caller,
    conflict,
    forbidden,
    policy_denied,
    project_exists,
    project_of,
    require_admin,
)
from .microversion import at_least

QUOTA_NAME = "compute"
DEFAULTS: dict[str, int] = {
    "instances": 10, "cores": 20, "ram": 51200, "metadata_items": 128,
    "injected_files": 5, "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255, "key_pairs": 100, "server_groups": 10,
    "server_group_members": 10, "fixed_ips": -1, "floating_ips": 10,
    "security_groups": 10, "security_group_rules": 20,
}
FILTERED_236 = ("fixed_ips", "floating_ips", "security_group_rules", "security_groups")
FILTERED_257 = (*FILTERED_236, "injected_files", "injected_file_content_bytes",
                "injected_file_path_bytes")
MAX_QUOTA = 0x7FFFFFFF
Obj = dict[str, Any]


# ---- reading ------------------------------------------------------------------
async def limits_for(objects: store.ObjectStore, project_id: str) -> dict[str, int]:
    found = await objects.try_get(cm.QUOTA_SET, project_id, QUOTA_NAME)
    overrides = (found or {}).get("spec") or {}
    return {k: int(overrides.get(k, v)) for k, v in DEFAULTS.items()}


def live(servers: list[Obj]) -> list[Obj]:
    return [s for s in servers if not s["metadata"].get("deletionTimestamp")]


def server_usage(servers: list[Obj]) -> dict[str, int]:
    used = {"instances": 0, "cores": 0, "ram": 0}
    for s in live(servers):
        flavor = s["spec"].get("flavor") or {}
        used["instances"] += 1
        used["cores"] += int(flavor.get("vcpus", 0))
        used["ram"] += int(flavor.get("ram", 0))
    return used


async def usage_for(objects: store.ObjectStore, project_id: str, user_id: str | None
                    ) -> dict[str, int]:
    used = {k: 0 for k in DEFAULTS}
    used.update(await quotas.usage(objects, project_id, quotas.COMPUTE))
    if user_id:
        used["key_pairs"] = (await quotas.usage(objects, user_id, quotas.KEYPAIRS)).get(
            "key_pairs", 0)
    return used


def check_instances(limits: dict[str, int], used: dict[str, int], flavor: Obj,
                    min_count: int, max_count: int) -> int:
    """How many of [min_count, max_count] servers fit; 403 as Nova when not even min."""
    vcpus, ram = int(flavor.get("vcpus", 0)), int(flavor.get("ram", 0))
    headroom = {k: (limits[k] - used[k]) if limits[k] >= 0 else 1 << 62
                for k in ("instances", "cores", "ram")}
    allowed = headroom["instances"]
    if vcpus:
        allowed = min(allowed, headroom["cores"] // vcpus)
    if ram:
        allowed = min(allowed, headroom["ram"] // ram)
    if allowed >= max_count:
        return max_count
    if allowed >= min_count:
        return allowed
    requested = {"instances": max_count, "cores": max_count * vcpus, "ram": max_count * ram}
    overs = [k for k in ("cores", "instances", "ram")
             if limits[k] >= 0 and used[k] + requested[k] > limits[k]]
    shown = {**requested, "instances": str(min_count) if min_count == max_count
             else f"{min_count}-{max_count}"}
    raise forbidden(
        f"Quota exceeded for {', '.join(overs)}: Requested "
        f"{', '.join(str(shown[k]) for k in overs)}, but already used "
        f"{', '.join(str(used[k]) for k in overs)} of "
        f"{', '.join(str(limits[k]) for k in overs)} {', '.join(overs)}")


async def claim_servers(objects: store.ObjectStore, project: str, limits: dict[str, int],
                        flavor: Obj, min_count: int, max_count: int) -> list[str]:
    """Claim quota for as many of [min_count, max_count] servers as fit (one CAS on the
    project's usage); their ids. Nova's 403 when not even ``min_count`` fit."""
    sids = [str(uuid.uuid4()) for _ in range(max_count)]
    one = {"instances": 1, "cores": int(flavor.get("vcpus", 0)), "ram": int(flavor.get("ram", 0))}

    def want(used: dict[str, int]) -> dict[str, dict[str, int]]:
        full = {k: used.get(k, 0) for k in one}
        return {sid: dict(one) for sid in sids[:check_instances(limits, full, flavor,
                                                                  min_count, max_count)]}

    granted = await quotas.claim(objects, project, quotas.COMPUTE, want)
    return [sid for sid in sids if sid in granted]


async def claim_group(objects: store.ObjectStore, project: str, group_id: str) -> None:
    limits = {"server_groups": (await limits_for(objects, project))["server_groups"]}
    try:
        await quotas.claim(objects, project, quotas.COMPUTE,
                           {group_id: {"server_groups": 1}}, limits)
    except quotas.QuotaExceeded as exc:
        raise forbidden("Quota exceeded, too many server groups.") from exc


async def release(objects: store.ObjectStore, project: str, names: list[str]) -> None:
    """Servers or server groups deleted (or never written): their claims go."""
    await quotas.release(objects, project, quotas.COMPUTE, names)


def filtered(request: Request) -> tuple[str, ...]:
    if at_least(request, "2.57"):
        return FILTERED_257
    if at_least(request, "2.36"):
        return FILTERED_236
    return ()


# ---- os-quota-sets --------------------------------------------------------------
async def _target(request: Request, ctx: AuthContext, rule: str) -> str:
    pid = request.path_params["project_id"]
    if pid != ctx.project_id and not ctx.is_admin:
        raise policy_denied(f"os_compute_api:os-quota-sets:{rule}")
    if not await project_exists(request, pid):
        raise bad(f"Project ID {pid} is not a valid project.")
    return pid


def _quota_body(request: Request, values: dict[str, Any], pid: str | None) -> Response:
    hidden = filtered(request)
    out: dict[str, Any] = {"id": pid} if pid else {}
    out.update({k: v for k, v in values.items() if k not in hidden})
    return JSONResponse({"quota_set": out})


async def show_quota(request: Request) -> Response:
    ctx = await caller(request)
    pid = await _target(request, ctx, "show")
    return _quota_body(request, await limits_for(runtime(request).objects, pid), pid)


async def detail_quota(request: Request) -> Response:
    ctx = await caller(request)
    pid = await _target(request, ctx, "detail")
    objects = runtime(request).objects
    limits = await limits_for(objects, pid)
    user = ctx.user_id if pid == ctx.project_id else None
    used = await usage_for(objects, pid, request.query_params.get("user_id") or user)
    return _quota_body(request, {k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0}
                                 for k, v in limits.items()}, pid)


async def defaults_quota(request: Request) -> Response:
    ctx = await caller(request)
    pid = await _target(request, ctx, "defaults")
    return _quota_body(request, dict(DEFAULTS), pid)


class QuotaUpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quota_set: dict[str, Any]


def _quota_value(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise bad(f"Invalid input for field/attribute {key}. Value: {value}. "
                  f"{value!r} is not of type 'integer', 'string'")
    try:
        n = int(value)
    except ValueError as exc:
        raise bad(f"Invalid input for field/attribute {key}. Value: {value}. "
                  f"'{value}' does not match '^-?[0-9]+$'") from exc
    if not -1 <= n <= MAX_QUOTA:
        raise bad(f"Invalid input for field/attribute {key}. Value: {value}. "
                  f"{n} is not within [-1, {MAX_QUOTA}]")
    return n


async def update_quota(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-quota-sets:update")
    pid = await _target(request, ctx, "update")
    body = await body_of(request, QuotaUpdateBody, "quota_set")
    hidden = filtered(request)
    force = str(body.quota_set.get("force", False)).lower() in ("true", "1", "yes", "on")
    wanted: dict[str, int] = {}
    for key, value in body.quota_set.items():
        if key == "force":
            continue
        if key not in DEFAULTS or key in hidden:
            raise bad(f"Invalid input for field/attribute quota_set. Value: {body.quota_set}. "
                      f"Additional properties are not allowed ('{key}' was unexpected)")
        wanted[key] = _quota_value(key, value)
    objects = runtime(request).objects
    if not force:
        used = await usage_for(objects, pid, None)
        for key, n in wanted.items():
            if n != -1 and n < used.get(key, 0):
                raise bad(f"Quota limit {n} for {key} must be greater than or equal to "
                          f"already used and reserved {used[key]}.")
    await _write_overrides(objects, pid, wanted)
    return _quota_body(request, await limits_for(objects, pid), None)


async def _write_overrides(objects: store.ObjectStore, pid: str, wanted: dict[str, int]) -> None:
    """Merge ``wanted`` into the project's QuotaSet, creating it on first use."""
    def merge(found: dict[str, Any]) -> None:
        found["spec"] = {**(found.get("spec") or {}), **wanted}

    try:
        await objects.create({"apiVersion": "kumo.io/v1", "kind": cm.QUOTA_SET,
                              "metadata": {"name": QUOTA_NAME, "namespace": pid},
                              "spec": wanted})
        return
    except store.AlreadyExists:
        pass
    try:
        await objects.mutate(cm.QUOTA_SET, pid, QUOTA_NAME, merge)
    except (store.Conflict, store.NotFound) as exc:
        raise conflict("Too many concurrent quota updates; try again.") from exc


async def delete_quota(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-quota-sets:delete")
    pid = request.path_params["project_id"]
    try:
        await runtime(request).objects.delete(cm.QUOTA_SET, pid, QUOTA_NAME)
    except store.NotFound:
        pass
    return Response(status_code=202)


# ---- /limits --------------------------------------------------------------------
ABSOLUTE = {"ram": ["maxTotalRAMSize"], "instances": ["maxTotalInstances"],
            "cores": ["maxTotalCores"], "key_pairs": ["maxTotalKeypairs"],
            "floating_ips": ["maxTotalFloatingIps"],
            "metadata_items": ["maxServerMeta", "maxImageMeta"],
            "injected_files": ["maxPersonality"],
            "injected_file_content_bytes": ["maxPersonalitySize"],
            "security_groups": ["maxSecurityGroups"],
            "security_group_rules": ["maxSecurityGroupRules"],
            "server_groups": ["maxServerGroups"],
            "server_group_members": ["maxServerGroupMembers"]}
USED = {"totalRAMUsed": "ram", "totalCoresUsed": "cores", "totalInstancesUsed": "instances",
        "totalFloatingIpsUsed": "floating_ips", "totalSecurityGroupsUsed": "security_groups",
        "totalServerGroupsUsed": "server_groups"}
LIMIT_FILTER_236 = ("floating_ips", "security_groups", "security_group_rules")
LIMIT_FILTER_257 = (*LIMIT_FILTER_236, "injected_files", "injected_file_content_bytes")


async def limits(request: Request) -> Response:
    ctx = await caller(request)
    pid = project_of(ctx)
    other = request.query_params.get("tenant_id")
    if other and other != pid:
        require_admin(ctx, "os_compute_api:limits:other_project")
        pid = other
    objects = runtime(request).objects
    quota = await limits_for(objects, pid)
    used = await usage_for(objects, pid, ctx.user_id if pid == ctx.project_id else None)
    hidden = LIMIT_FILTER_257 if at_least(request, "2.57") else (
        LIMIT_FILTER_236 if at_least(request, "2.36") else ())
    absolute: dict[str, int] = {}
    for key, names in ABSOLUTE.items():
        if key in hidden:
            continue
        for name in names:
            if name == "maxImageMeta" and at_least(request, "2.39"):
                continue
            absolute[name] = quota[key]
    for name, key in USED.items():
        if key not in hidden:
            absolute[name] = used.get(key, 0)
    return JSONResponse({"limits": {"rate": [], "absolute": absolute}})
