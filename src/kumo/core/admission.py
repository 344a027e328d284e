"""One admission rule for the generic (native) door, the same the OpenStack faces obey.

The native API writes any kind by name. Without this, a member could write through it
what the OpenStack faces forbid: raise its own quotas, give itself another project's
address or VXLAN segment, set a server's status or flavor, drop an agent's finalizer,
forge instance actions. So, for every native write:

- admin-only kinds (identity, hosts, allocations, ...) are written by admins and kumo's
  services only;
- namespaced kinds are written by members only when the kind is ``tenant_writable``
  (ConfigMap); every other kind has a domain operation behind its OpenStack API, and a
  member's write must go through it (Forbidden here);
- whatever is admitted must still read back as its kind: the typed model validates the
  whole object, so no write can store a value that breaks a later read.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from kumo.model import network as nm
from kumo.model.base import model_for
from kumo.model.registry import KindInfo

from .actor import Actor
from .errors import Forbidden, Invalid
from .identity import admit_native_write

Obj = dict[str, Any]
# Allocation records are claims by name: the network face reads the VNI, subnet + address
# or network + MAC back from it, so a malformed name (an admin's native write) would break
# every later network create (500) instead of being refused here.
NAME_PATTERNS = {
    nm.SEGMENT_ALLOCATION: re.compile(r"vxlan\.[0-9]{1,8}"),
    nm.IP_ALLOCATION: re.compile(r"[^.]+\.[0-9]{1,3}(\.[0-9]{1,3}){3}"),
    nm.MAC_ALLOCATION: re.compile(r"[^.]+\.[0-9a-f]{2}(-[0-9a-f]{2}){5}"),
}


def admit_write(actor: Actor, info: KindInfo, namespace: str) -> None:
    """May ``actor`` write objects of this kind in ``namespace`` through the native API?"""
    admit_native_write(actor, info.kind, info.plural)
    if actor.is_admin or actor.system:
        return
    if info.admin_only:
        raise Forbidden(f"{info.plural} are admin-only", rule=f"native:{info.plural}:write")
    if not actor.can_write:
        raise Forbidden("your role does not allow writes", rule=f"native:{info.plural}:write")
    if not info.tenant_writable:
        raise Forbidden(f"{info.plural} are written through their OpenStack API, which applies "
                        "the cloud's rules; the native API is read-only for them to members",
                        rule=f"native:{info.plural}:write")
    if namespace and not actor.sees(namespace):
        raise Forbidden(f"namespace {namespace!r} is not yours", rule="native:namespace")


def admit_object(actor: Actor, new: Obj, current: Obj | None = None) -> None:
    """Fields a member may not set even on a kind it writes: a finalizer blocks deletion
    until a controller removes it, and no controller owns a member's objects."""
    if actor.is_admin or actor.system:
        return
    before = set(((current or {}).get("metadata") or {}).get("finalizers") or [])
    added = set((new.get("metadata") or {}).get("finalizers") or []) - before
    if added:
        raise Forbidden(f"finalizers are kumo's controllers' to set, not members' "
                        f"({sorted(added)[0]!r})", rule="native:finalizers")


def validate(obj: Obj) -> None:
    """The object parses as its kind's typed model (when the kind has one), and an
    allocation record is named as its claim."""
    pattern = NAME_PATTERNS.get(str(obj.get("kind") or ""))
    name = str((obj.get("metadata") or {}).get("name") or "")
    if pattern is not None and not pattern.fullmatch(name):
        raise Invalid(f"{obj.get('kind')} name {name!r} is not a claim name "
                      f"({pattern.pattern})")
    model = model_for(str(obj.get("kind") or ""))
    if model is None:
        return
    try:
        model.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise Invalid(f"{obj.get('kind')} is invalid at {where or 'the top'}: "
                      f"{first.get('msg')}") from None


def admit_diagnosis(actor: Actor, what: str, namespace: str | None) -> None:
    """``kumo doctor`` reads the whole cloud (hosts, every project): admins only. A trace
    is of one object: its project's members may read it (hosts shown hashed)."""
    if actor.is_admin or actor.system:
        return
    if what == "doctor":
        raise Forbidden("kumo doctor needs an admin token (it reads every host and project)",
                        rule="diagnose:doctor")
    if namespace is None or not actor.sees(namespace):
        raise Forbidden(f"{what} of another project's object", rule="diagnose:trace")
