"""Unique names as store-level claims: two racing creates of one name cannot both win.

A lookup before a create leaves a window in which two requests both find the name free.
Here the reservation is a ``NameClaim`` object whose name derives from (kind, scope,
name): the store refuses its second create, so exactly one caller holds the name.

    create_unique   claim, create the object, confirm the claim is still ours
    claim/release   reserve and free a name (renames: claim the new, then release the old)

A crash between the claim and the create (or between a delete and the release) leaves a
claim whose owner does not hold the name; after ``GRACE_SECONDS`` (longer than any claim
→ create gap) the next claimant takes it over with compare-and-swap. Names compare
exactly, as kumo's Keystone always has. Refusals are ``errors.AlreadyExists``.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from kumo import store
from kumo.model.names import NAME_CLAIM

from .errors import AlreadyExists

Obj = dict[str, Any]
GRACE_SECONDS = 5.0


def claim_name(kind: str, scope: str, name: str) -> str:
    """The NameClaim's object name: stable, label- and path-safe, whatever the name is."""
    digest = hashlib.sha256(f"{kind}\0{scope}\0{name}".encode()).hexdigest()[:40]
    return f"{kind.lower()}.{digest}"


def _taken(kind: str, scope: str, name: str) -> AlreadyExists:
    return AlreadyExists(f"{kind} name {name!r} is taken", code="NameTaken", kind=kind,
                         ident=name)


async def _holds(objects: store.ObjectStore, spec: Obj) -> bool:
    """Whether the claim's owner exists and still carries the claimed name."""
    owner = await objects.try_get(spec["kind"], spec.get("ownerNamespace") or "", spec["owner"])
    # an owner without a name field (a security group rule, claimed by its rule key) holds
    # its claim for as long as it exists
    return owner is not None and (owner.get("spec") or {}).get("name", spec["name"]) == spec["name"]


async def claim(objects: store.ObjectStore, kind: str, scope: str, name: str, owner: str, *,
                owner_namespace: str = "", grace: float = GRACE_SECONDS) -> None:
    """Reserve ``name`` in ``scope`` for the object ``owner`` of ``kind``; idempotent."""
    cname = claim_name(kind, scope, name)
    spec = {"kind": kind, "scope": scope, "name": name, "owner": owner,
            "ownerNamespace": owner_namespace, "claimedAt": time.time()}
    for _ in range(3):  # a claim released between our create and our read: create again
        try:
            await objects.create({"apiVersion": "kumo.io/v1", "kind": NAME_CLAIM,
                                  "metadata": {"name": cname, "namespace": ""}, "spec": spec})
            return
        except store.AlreadyExists:
            pass
        try:
            await objects.mutate(NAME_CLAIM, "", cname, _takeover(objects, spec, grace))
            return
        except store.NotFound:
            continue
        except store.Conflict:
            break
    raise _taken(kind, scope, name)


def _takeover(objects: store.ObjectStore, spec: Obj, grace: float) -> Any:
    async def change(current: Obj) -> Any:
        held = current["spec"]
        if held["owner"] == spec["owner"]:
            return store.UNCHANGED
        if time.time() - float(held.get("claimedAt") or 0) < grace or await _holds(objects, held):
            raise _taken(spec["kind"], spec["scope"], spec["name"])
        current["spec"] = {**spec, "claimedAt": time.time()}
        return None

    return change


async def release(objects: store.ObjectStore, kind: str, scope: str, name: str,
                  owner: str) -> None:
    """Free a name held by ``owner`` (a claim held by another is left alone)."""
    cname = claim_name(kind, scope, name)
    current = await objects.try_get(NAME_CLAIM, "", cname)
    if current is None or current["spec"].get("owner") != owner:
        return
    try:
        await objects.delete(NAME_CLAIM, "", cname,
                             expected_rv=int(current["metadata"]["resourceVersion"]))
    except (store.NotFound, store.Conflict):
        pass  # gone already, or taken over meanwhile: either way not ours to free


async def confirm(objects: store.ObjectStore, kind: str, scope: str, name: str,
                  owner: str) -> None:
    """AlreadyExists unless ``owner`` still holds the claim (it was not taken over)."""
    current = await objects.try_get(NAME_CLAIM, "", claim_name(kind, scope, name))
    if current is None or current["spec"].get("owner") != owner:
        raise _taken(kind, scope, name)


async def create_unique(objects: store.ObjectStore, obj: Obj, scope: str, *,
                        grace: float = GRACE_SECONDS) -> Obj:
    """Create ``obj`` (its ``spec.name`` unique among its kind in ``scope``) or AlreadyExists.

    The claim comes first; a failed create frees it. If the claim was taken over while
    the create ran (a store stalled past the grace), the object is removed again.
    """
    kind, md, name = obj["kind"], obj["metadata"], obj["spec"]["name"]
    owner, ns = md["name"], md.get("namespace") or ""
    await claim(objects, kind, scope, name, owner, owner_namespace=ns, grace=grace)
    try:
        created = await objects.create(obj)
    except BaseException:
        await release(objects, kind, scope, name, owner)
        raise
    try:
        await confirm(objects, kind, scope, name, owner)
    except AlreadyExists:
        await objects.delete(kind, ns, owner)
        raise
    return created
