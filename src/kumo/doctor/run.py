"""Run every registered check once on one snapshot; filter the findings by scope."""

from __future__ import annotations

import logging
import time
from typing import Any

from kumo import store
from kumo.common.version import VERSION
from kumo.model import registry

from . import (  # noqa: F401 - register their checks
    checks_hosts,
    checks_inventory,
    checks_objects,
    checks_store,
)
from .findings import CHECKS, Finding, Link
from .snapshot import Snapshot, parse_settings

log = logging.getLogger("kumo.doctor")
Obj = dict[str, Any]


def parse_scope(scope: str | None) -> tuple[str, str]:
    """``project:ID``, ``host:NAME``, ``KIND/ID`` (servers/ID, Port/ID) or the whole cloud."""
    if not scope:
        return "cloud", ""
    if ":" in scope:
        what, _, value = scope.partition(":")
        if what in ("project", "host") and value:
            return what, value
    if "/" in scope:
        kind, _, name = scope.partition("/")
        info = registry.by_plural(kind.lower()) or registry.by_kind(kind)
        if info is not None and name:
            return "object", f"{info.kind}/{name}"
    raise ValueError(f"unknown scope {scope!r}: use project:ID, host:NAME or KIND/ID")


def in_scope(f: Finding, what: str, value: str) -> bool:
    if what == "project":
        return value in f.namespaces
    if what == "host":
        return value in f.hosts
    if what == "object":
        return value in f.objects
    return True


class Doctor:
    """The checks of every invariant, against one store (``GET /diagnose/v1/doctor``)."""

    def __init__(self, objects: store.ObjectStore) -> None:
        self.objects = objects

    async def run(self, scope: str | None = None, settings: list[str] | None = None) -> Obj:
        """Every check on one snapshot; ``settings`` (``KEY=VALUE``) change thresholds."""
        what, value = parse_scope(scope)
        chosen = parse_settings(settings or [])
        t0 = time.perf_counter()
        snap = await Snapshot.take(self.objects, chosen)
        findings: list[Finding] = []
        for name, fn in CHECKS.items():
            try:
                findings += await fn(snap)
            except Exception as exc:  # one broken check must not hide the others
                log.exception("doctor check %s failed", name)
                findings.append(Finding(name, "warning", [
                    Link(f"check {name} could not run", "kumo doctor", {}),
                    Link(f"{type(exc).__name__}: {exc}", "kumo doctor", {})],
                    "report this as a bug in kumo doctor"))
        kept = [f for f in findings if in_scope(f, what, value)]
        kept.sort(key=lambda f: (f.severity != "critical", f.check))
        return {"scope": {"kind": what, "value": value}, "healthy": not kept,
                "findings": [f.view() for f in kept], "checks": sorted(CHECKS),
                "revision": snap.revision, "settings": chosen,
                "controlPlaneVersion": VERSION, "seconds": round(time.perf_counter() - t0, 3),
                "counted": {k: len(v) for k, v in snap.lists.items()}}
