"""Runs every (route, caller) call of the matrix and records the status."""

from __future__ import annotations

from .routes import Call, Filler, route_table
from .seed import CALLERS, Seed


async def send(seed: Seed, call: Call, caller: str) -> int:
    headers = dict(call.headers or {})
    who = seed.who[caller]
    if who is not None:
        headers["X-Auth-Token"] = who.token
    kw: dict = {"headers": headers}
    if call.content is not None:
        kw["content"] = call.content
    elif call.body is not None:
        kw["json"] = call.body
    r = await seed.cloud.client.request(call.method, call.path, **kw)
    if call.cleanup is not None:  # a native write's object must not outlive its call
        kind, ns, name = call.cleanup
        found = await seed.cloud.objects.try_get(kind, ns, name)
        if found is not None:
            if found["metadata"].get("finalizers"):
                found["metadata"]["finalizers"] = []
                await seed.cloud.objects.update(found)
            await seed.cloud.objects.delete(kind, ns, name)
    return r.status_code


async def observe(seed: Seed, routes: list[tuple[str, str]] | None = None
                  ) -> dict[tuple[str, str], dict[str, int]]:
    """(method, template) -> caller -> status; callers in CALLERS order (refused first)."""
    filler = Filler(seed)
    out: dict[tuple[str, str], dict[str, int]] = {}
    for method, template in routes or route_table():
        row: dict[str, int] = {}
        for caller in CALLERS:
            call = await filler.call(method, template, caller)
            row[caller] = await send(seed, call, caller)
        out[(method, template)] = row
    return out
