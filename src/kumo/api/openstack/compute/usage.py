"""The quota usage reconciler, run by the API server as a background task.

Quota usage is counted claims (``kumo.core.quotas``: one CAS on a project's
QuotaUsage per create, a release per delete), so no request lists a project's
servers to check a quota. What can drift — a claim left by a crash between claim
and create, an object deleted by a path that does not release (the garbage
collector, an admin's native delete) — is recomputed from the objects that exist:
once at start, then every ``quotas.INTERVAL`` seconds, for every service (compute
and network alike: one loop, so one task in the server's list).
"""

from __future__ import annotations

from kumo.core import quotas

from ...runtime import Runtime

KEY = "quota-usage"


async def run(rt: Runtime) -> None:
    passes = {"passes": 0, "usages": 0}

    def on_pass(seen: int) -> None:
        passes["passes"] += 1
        passes["usages"] = seen

    rt.debug_providers[KEY] = lambda: dict(passes)
    await quotas.reconcile_forever(rt.objects, on_pass=on_pass)
