"""What the doctor reports: findings, each a chain from the symptom to its root cause.

A check is a coroutine ``(Snapshot) -> list[Finding]`` registered with ``@check``;
a new kind's invariants (routers, floating IPs, zones, load balancers) plug in the
same way, in their own module imported by ``kumo.doctor``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass
class Link:
    """One step of a chain: what is observed, whose responsibility, the evidence."""

    what: str
    component: str
    evidence: Obj = field(default_factory=dict)

    def view(self) -> Obj:
        return {"what": self.what, "component": self.component, "evidence": self.evidence}


@dataclass
class Finding:
    check: str
    severity: str  # critical | warning
    chain: list[Link]  # chain[0] the symptom ... chain[-1] the root cause
    fix: str
    objects: list[str] = field(default_factory=list)  # KIND/name the finding is about
    hosts: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)

    @property
    def root_cause(self) -> Link:
        return self.chain[-1]

    def view(self) -> Obj:
        return {"check": self.check, "severity": self.severity,
                "symptom": self.chain[0].what, "rootCause": self.root_cause.what,
                "owner": self.root_cause.component, "fix": self.fix,
                "chain": [link.view() for link in self.chain], "objects": self.objects,
                "hosts": self.hosts, "namespaces": self.namespaces}


CheckFn = Callable[[Any], Awaitable[list[Finding]]]
CHECKS: dict[str, CheckFn] = {}


def check(name: str) -> Callable[[CheckFn], CheckFn]:
    """Register an invariant check under ``name`` (the finding's ``check``)."""
    def deco(fn: CheckFn) -> CheckFn:
        CHECKS[name] = fn
        return fn
    return deco
