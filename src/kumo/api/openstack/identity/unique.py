"""Keystone's unique names on kumo.core.names: create, rename and delete with the claim.

The lookup stays in front of the claim: it answers the common duplicate quickly and
covers objects stored before claims existed; the claim closes the race between two
creates that both passed the lookup. A lost claim is Keystone's 409 Conflict.
"""

from __future__ import annotations

from typing import Any

from kumo.core import errors, names
from kumo.model import identity as m

from ...errors import ApiError
from ...runtime import Runtime
from .views import label_value, save

Obj = dict[str, Any]


def duplicate(what: str, name: str) -> ApiError:
    if what == "application credential":
        return ApiError(409, f"Duplicate entry found with name {name}.")
    return ApiError(409, f"Conflict occurred attempting to store {what} - Duplicate entry "
                         f"found with name {name}.")


async def _check_free(rt: Runtime, kind: str, name: str, scope: str, what: str,
                      self_id: str | None = None) -> None:
    for obj in (await rt.objects.list(kind, "", label_selector=f"name={label_value(name)}")
                ).items:
        if (obj["spec"]["name"] == name and m.name_scope(kind, obj["spec"]) == scope
                and obj["metadata"]["name"] != self_id):
            raise duplicate(what, name)


async def create_named(rt: Runtime, obj: Obj, what: str) -> Obj:
    """Store a new identity object whose name is free in its scope, or 409."""
    kind, name = obj["kind"], obj["spec"]["name"]
    scope = m.name_scope(kind, obj["spec"])
    await _check_free(rt, kind, name, scope, what)
    try:
        return await names.create_unique(rt.objects, obj, scope)
    except errors.AlreadyExists as exc:
        raise duplicate(what, name) from exc


async def save_named(rt: Runtime, obj: Obj, old_name: str, what: str) -> Obj:
    """Write an edited object; a changed name is claimed first and the old one freed."""
    kind, oid, name = obj["kind"], obj["metadata"]["name"], obj["spec"]["name"]
    if name == old_name:
        return await save(rt, obj)
    scope = m.name_scope(kind, obj["spec"])
    await _check_free(rt, kind, name, scope, what, oid)
    try:
        await names.claim(rt.objects, kind, scope, name, oid)
    except errors.AlreadyExists as exc:
        raise duplicate(what, name) from exc
    try:
        saved = await save(rt, obj)
    except BaseException:
        await names.release(rt.objects, kind, scope, name, oid)
        raise
    await names.release(rt.objects, kind, scope, old_name, oid)
    return saved


async def delete_named(rt: Runtime, obj: Obj) -> None:
    """Delete an identity object, then free its name."""
    kind, oid = obj["kind"], obj["metadata"]["name"]
    await rt.objects.delete(kind, "", oid)
    await names.release(rt.objects, kind, m.name_scope(kind, obj["spec"]), obj["spec"]["name"],
                        oid)
