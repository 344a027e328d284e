"""Events: one per step of a request, naming the component that did it.

Stored as namespaced ``Event`` objects beside the object they describe, as
Kubernetes does, so ``kumo trace`` and ``openstack server event list`` read
the same record.
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol

from kumo.common.clock import now_iso


class Creator(Protocol):
    """Anything that stores a new object: the ObjectStore, or the agents' API client."""

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]: ...


def event_object(involved: dict[str, Any], component: str, reason: str, message: str, *,
                 type_: str = "Normal", start: str | None = None, end: str | None = None,
                 request_id: str | None = None, extra: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    md = involved["metadata"]
    ts = now_iso()
    return {
        "apiVersion": "kumo.io/v1", "kind": "Event",
        "metadata": {"name": f"{md['name']}.{secrets.token_hex(6)}",
                     "namespace": md.get("namespace") or "",
                     "labels": {"involved-uid": md.get("uid", "")}},
        "involvedObject": {"kind": involved.get("kind"), "name": md["name"],
                           "namespace": md.get("namespace") or "", "uid": md.get("uid"),
                           # the revision of the object this step saw (``kumo trace``)
                           "resourceVersion": md.get("resourceVersion")},
        "component": component, "reason": reason, "message": message, "type": type_,
        "startTime": start or ts, "endTime": end or ts, "requestId": request_id,
        **(extra or {}),
    }


async def record(objects: Creator, involved: dict[str, Any], component: str,
                 reason: str, message: str, **kwargs: Any) -> dict[str, Any]:
    return await objects.create(event_object(involved, component, reason, message, **kwargs))
