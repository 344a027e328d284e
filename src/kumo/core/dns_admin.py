"""Designate's admin objects: TSIG keys, TLDs, blacklists (cluster-scoped, admins only).

- A TLD list, once it has entries, is the set of top-level domains zones may be made in;
  a zone may not be a TLD itself.
- A blacklist entry is a regular expression; a zone whose name matches is refused to
  members (admins may still make it, as in Designate).
- TSIG keys are accepted by the zone-transfer source for transfers, beside kumo's own
  key, so an operator's server can follow kumo with a key of its own.
TLD names and TSIG key names are unique (``names``).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from kumo import store
from kumo.model import dns as dm

from . import dns_rules as rules
from . import names
from .actor import Actor
from .errors import Invalid, NotFound

Obj = dict[str, Any]
ALGORITHMS = ("hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384",
              "hmac-sha512")


def _object(kind: str, spec: Obj) -> Obj:
    return {"apiVersion": "kumo.io/v1", "kind": kind,
            "metadata": {"name": str(uuid.uuid4()), "namespace": ""}, "spec": spec}


def check(kind: str, body: Obj, partial: bool = False) -> Obj:
    """The spec of a TLD, blacklist entry or TSIG key from a request body."""
    out: Obj = {}
    if "description" in body:
        out["description"] = rules.check_description(body["description"])
    if kind == dm.DNS_TLD and ("name" in body or not partial):
        name = str(body.get("name") or "").lower()
        if not re.fullmatch(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_-]{1,63})*",
                            name) or len(name) > 255:
            raise Invalid(f"TLD name {body.get('name')!r} is invalid", code="invalid_object")
        out["name"] = name
    if kind == dm.DNS_BLACKLIST and ("pattern" in body or not partial):
        pattern = body.get("pattern")
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise Invalid(f"pattern is not a regular expression: {exc}",
                          code="invalid_object") from None
        if not isinstance(pattern, str) or not pattern or len(pattern) > 255:
            raise Invalid("pattern must be a non-empty string", code="invalid_object")
        out["pattern"] = pattern
    if kind == dm.DNS_TSIG_KEY:
        out.update(_tsig(body, partial))
    return out


def _tsig(body: Obj, partial: bool) -> Obj:
    out: Obj = {}
    if "name" in body or not partial:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise Invalid("a TSIG key name is a non-empty string", code="invalid_object")
        out["name"] = name
    if "algorithm" in body or not partial:
        if body.get("algorithm") not in ALGORITHMS:
            raise Invalid(f"algorithm must be one of {', '.join(ALGORITHMS)}",
                          code="invalid_object")
        out["algorithm"] = body["algorithm"]
    if "secret" in body or not partial:
        secret = body.get("secret")
        if not isinstance(secret, str) or not secret or len(secret) > 4096:
            raise Invalid("secret must be a non-empty string", code="invalid_object")
        out["secret"] = secret
    if "scope" in body or not partial:
        if body.get("scope", "POOL") not in ("POOL", "ZONE"):
            raise Invalid("scope must be POOL or ZONE", code="invalid_object")
        out["scope"] = body.get("scope", "POOL")
    if "resource_id" in body:
        try:
            out["resourceId"] = str(uuid.UUID(str(body["resource_id"])))
        except ValueError:
            raise Invalid("resource_id must be a UUID", code="invalid_object") from None
    return out


UNIQUE = {dm.DNS_TLD: "name", dm.DNS_TSIG_KEY: "name"}


async def create(objects: store.ObjectStore, actor: Actor, kind: str, body: Obj) -> Obj:
    actor.require_admin(f"create_{kind.lower()}")
    obj = _object(kind, check(kind, body))
    if kind in UNIQUE:
        return await names.create_unique(objects, obj, "")
    return await objects.create(obj)


async def get(objects: store.ObjectStore, kind: str, ident: str) -> Obj:
    found = await objects.try_get(kind, "", ident)
    if found is None:
        raise NotFound(f"Could not find {kind.removeprefix('Dns')}",
                       code=f"{kind.removeprefix('Dns').lower()}_not_found")
    return found


async def update(objects: store.ObjectStore, actor: Actor, kind: str, ident: str,
                 body: Obj) -> Obj:
    actor.require_admin(f"update_{kind.lower()}")
    current = await get(objects, kind, ident)
    change = check(kind, body, partial=True)
    field = UNIQUE.get(kind)
    if field and field in change and change[field] != current["spec"][field]:
        await names.claim(objects, kind, "", change[field], ident)
        updated = await objects.mutate(kind, "", ident, lambda cur: cur["spec"].update(change))
        await names.release(objects, kind, "", current["spec"][field], ident)
        return updated
    return await objects.mutate(kind, "", ident, lambda cur: cur["spec"].update(change))


async def delete(objects: store.ObjectStore, actor: Actor, kind: str, ident: str) -> None:
    actor.require_admin(f"delete_{kind.lower()}")
    current = await get(objects, kind, ident)
    await objects.delete(kind, "", ident)
    if kind in UNIQUE:
        await names.release(objects, kind, "", current["spec"][UNIQUE[kind]], ident)


async def check_zone_name(objects: store.ObjectStore, actor: Actor, name: str,
                          privileged: bool = False) -> None:
    """TLD and blacklist rules for a new zone (kumo's own reverse zones skip both)."""
    if actor.system:
        return
    tlds = {t["spec"]["name"].rstrip(".") + "." for t in
            (await objects.list(dm.DNS_TLD, None)).items}
    if name in tlds:
        raise Invalid(f"{name} is a TLD; zones are made below it", code="invalid_zone_name")
    if tlds and not any(name.endswith("." + t) for t in tlds):
        raise Invalid(f"{name} is not under a known TLD", code="invalid_zone_name")
    if actor.is_admin or actor.system or privileged:
        return
    for entry in (await objects.list(dm.DNS_BLACKLIST, None)).items:
        if re.search(entry["spec"]["pattern"], name):
            raise Invalid(f"zone name {name} is blacklisted", code="invalid_zone_name")
