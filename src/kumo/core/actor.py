"""Who asks, as the domain sees it. Faces build one from the request's token; kumo's
own controllers act as ``Actor.kumo(project)``. Policy rules of the domain (only a
network's owner picks fixed addresses, members never write quotas ...) read it."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Forbidden


@dataclass(frozen=True)
class Actor:
    project_id: str | None
    user_id: str | None = None
    is_admin: bool = False
    can_write: bool = False  # member or admin in the project
    system: bool = False  # kumo itself (DHCP ports, ports made for a server)

    @classmethod
    def kumo(cls, project_id: str | None = None) -> Actor:
        return cls(project_id, None, True, True, True)

    def sees(self, namespace: str | None) -> bool:
        """Whether an object of ``namespace`` (a project id) is visible to this actor."""
        return self.is_admin or (namespace or "") == (self.project_id or "")

    def require_write(self, rule: str) -> None:
        if not (self.can_write or self.system):
            raise Forbidden(f"rule:{rule} is disallowed by policy", rule=rule)

    def require_admin(self, rule: str) -> None:
        if not (self.is_admin or self.system):
            raise Forbidden(f"rule:{rule} is disallowed by policy", rule=rule)
