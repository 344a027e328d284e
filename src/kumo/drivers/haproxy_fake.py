"""An in-memory HAProxy for control-plane tests and scale runs (beside FakeNet): it keeps
the plans it was given and reports every member UP and every listener OPEN."""

from __future__ import annotations

from .haproxy_config import LbPlan, render


class FakeHaproxy:
    def __init__(self) -> None:
        self.plans: dict[str, LbPlan] = {}

    def ensure(self, plan: LbPlan, netns: str, previous: LbPlan | None) -> str:
        render(plan, "/nonexistent")  # the same validation as the real driver
        before = self.plans.get(plan.lb_id)
        self.plans[plan.lb_id] = plan
        if before is None:
            return "started"
        if before == plan:
            return "unchanged"
        return "runtime" if before.without_members() == plan.without_members() else "reloaded"

    def stop(self, lb_id: str, netns: str | None = None) -> None:
        self.plans.pop(lb_id, None)

    def present(self) -> list[str]:
        return sorted(self.plans)

    def stats(self, lb_id: str) -> list[dict[str, str]]:
        plan = self.plans[lb_id]
        rows = [{"pxname": f"l{x.id}", "svname": "FRONTEND", "status": "OPEN", "scur": "0"}
                for x in plan.listeners]
        for p in plan.pools:
            rows.append({"pxname": f"p{p.id}", "svname": "BACKEND", "status": "UP"})
            rows += [{"pxname": f"p{p.id}", "svname": f"m{m.id}",
                      "status": ("UP" if p.monitor else "no check") if m.enabled else "MAINT"}
                     for m in p.members]
        return rows
