"""The shared steps of every server action: Nova's lock and state checks, and the
CAS of the spec change with its InstanceAction and event.

State checks are Nova's (compute/api.py decorators), made on the freshest copy
inside the CAS loop; a locked server refuses non-admins with 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from ...auth import AuthContext
from ...runtime import runtime
from .common import conflict, mutate_server, request_id, stamp_updated
from .instance_actions import record_action, record_step
from .views import effective_state

Obj = dict[str, Any]


def check_lock(ctx: AuthContext, server: Obj) -> None:
    if server["spec"].get("locked") and not ctx.is_admin:
        raise conflict(f"Instance {server['metadata']['name']} is locked")


def check_state(server: Obj, action: str, vm_states: tuple[str, ...] | None,
                task_states: tuple[str | None, ...] | None = (None,),
                must_have_launched: bool = True) -> None:
    """Nova's check_instance_state, worded as the API's 409."""
    vm, task = effective_state(server)
    sid = server["metadata"]["name"]
    if server["metadata"].get("deletionTimestamp"):
        raise conflict(f"Cannot '{action}' instance {sid} while it is in task_state deleting")
    if vm_states is not None and vm not in vm_states:
        raise conflict(f"Cannot '{action}' instance {sid} while it is in vm_state {vm}")
    if task_states is not None and task not in task_states:
        raise conflict(f"Cannot '{action}' instance {sid} while it is in task_state {task}")
    if must_have_launched and not (server.get("status") or {}).get("launchedAt"):
        raise conflict(f"Cannot '{action}' instance {sid} while it is in launched_at None")


async def apply_action(request: Request, ctx: AuthContext, server: Obj, action: str,
                 change: Callable[[Obj], None], message: str) -> Obj:
    """CAS the spec change, then record the InstanceAction and the facade's step."""
    req_id = request_id(request)

    def full(obj: Obj) -> None:
        change(obj)
        obj["spec"]["requestId"] = req_id
        stamp_updated(obj)

    objects = runtime(request).objects
    updated = await mutate_server(objects, server, full)
    await record_action(objects, updated, action, req_id, ctx)
    reason = "".join(p.capitalize() for p in action.split("_")) + "Accepted"
    await record_step(objects, updated, reason, message, req_id)
    return updated
