"""PATCH /v2/images/{id}: Glance's JSON-patch media types, parsed then applied.

Parsing checks everything that does not depend on the stored image (media
type, operations, pointers, read-only and reserved names, value types);
applying checks the rest against the current object, so it can be retried
unchanged after a CAS conflict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...auth import AuthContext
from ...errors import ApiError
from .access import check_visibility_change
from .model import (
    CORE,
    READONLY,
    RESERVED,
    RESERVED_PREFIX,
    bad,
    check_core,
    check_properties_quota,
    check_property,
    forbidden,
    state,
    touch,
)

PATCH_TYPES = {"application/openstack-images-v2.0-json-patch": 4,
               "application/openstack-images-v2.1-json-patch": 10}
OPS = ("add", "remove", "replace")


@dataclass(frozen=True)
class Change:
    op: str
    attr: str
    value: Any
    draft: int


def media_type(content_type: str | None) -> int:
    """The JSON-schema draft of a patch media type, or 415 naming the accepted ones."""
    mt = (content_type or "").split(";", 1)[0].strip().lower()
    if mt not in PATCH_TYPES:
        allowed = ", ".join(sorted(PATCH_TYPES))
        raise ApiError(415, f"Image PATCH expects Content-Type one of: {allowed}",
                       reason="UnsupportedMediaType", headers={"Accept-Patch": allowed})
    return PATCH_TYPES[mt]


def _pointer(pointer: Any) -> list[str]:
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise bad(f"Pointer `{pointer}` does not start with \"/\".")
    if re.search(r"/\s*?/", pointer[1:]):
        raise bad(f"Pointer `{pointer}` contains adjacent \"/\".")
    if len(pointer) > 1 and pointer.endswith("/"):
        raise bad(f"Pointer `{pointer}` end with \"/\".")
    if re.search("~[^01]", pointer) or pointer.endswith("~"):
        raise bad(f"Pointer `{pointer}` contains \"~\" not part of a recognized escape "
                  "sequence.")
    return [p.replace("~1", "/").replace("~0", "~").strip()
            for p in pointer.lstrip("/").split("/")]


def _op_and_path(raw: dict[str, Any], draft: int) -> tuple[str, Any]:
    if draft == 10:
        op = raw.get("op")
        if op not in OPS:
            raise bad(f"Invalid operation: `{op}`. It must be one of the following: "
                      f"{', '.join(OPS)}.")
        if "path" not in raw:
            raise bad("Unable to find 'path' in JSON Schema change")
        return op, raw["path"]
    present = [k for k in OPS if k in raw]
    if len(present) != 1:
        raise bad('Operation objects must contain exactly one member named "add", '
                  '"remove", or "replace".')
    return present[0], raw[present[0]]


def parse(body: Any, draft: int) -> list[Change]:
    if not isinstance(body, list):
        raise bad("Request body must be a JSON array of operation objects.")
    changes = []
    for raw in body:
        if not isinstance(raw, dict):
            raise bad("Operations must be JSON objects.")
        op, pointer = _op_and_path(raw, draft)
        path = _pointer(pointer)
        attr = path[0]
        if attr in READONLY:
            raise forbidden(f"Attribute '{attr}' is read-only.")
        if attr in RESERVED or attr.startswith(RESERVED_PREFIX):
            raise forbidden(f"Attribute '{attr}' is reserved.")
        if attr == "locations":
            raise forbidden("It's not allowed to update locations if locations are invisible.")
        if len(path) != 1:
            raise bad(f"Invalid JSON pointer for this resource: '/{'/'.join(path)}'")
        value = None
        if op != "remove":
            if "value" not in raw:
                raise bad(f'Operation "{op}" requires a member named "value".')
            value = raw["value"]
            if attr in CORE:
                check_core(attr, value)
            else:
                check_property(attr, value)
        changes.append(Change(op, attr, value, draft))
    return changes


def apply(ctx: AuthContext, obj: dict[str, Any], changes: list[Change]) -> None:
    """Apply parsed changes to an image object in place (403/409 when refused)."""
    spec = obj["spec"]
    props = spec.setdefault("properties", {})
    for ch in changes:
        if ch.attr in CORE:
            _apply_core(ctx, obj, ch)
        elif ch.op == "remove":
            if ch.attr not in props:
                raise ApiError(409, f"Property {ch.attr} does not exist.", reason="Conflict")
            del props[ch.attr]
        elif ch.op == "replace" and ch.attr not in props:
            raise ApiError(409, f"Property {ch.attr} does not exist.", reason="Conflict")
        elif ch.op == "add" and ch.draft == 4 and ch.attr in props:
            raise ApiError(409, f"Property {ch.attr} already present.", reason="Conflict")
        else:
            props[ch.attr] = ch.value
    check_properties_quota(props)
    touch(obj)


def _apply_core(ctx: AuthContext, obj: dict[str, Any], ch: Change) -> None:
    if ch.op == "remove":
        raise forbidden(f"Property {ch.attr} may not be removed.")
    if ch.op == "add" and ch.draft == 4:
        raise ApiError(409, f"Property {ch.attr} already present.", reason="Conflict")
    spec = obj["spec"]
    field = CORE[ch.attr]
    if spec.get(field) == ch.value:
        return
    if ch.attr == "owner" and not ctx.is_admin:
        raise forbidden("Owner can't be updated by non admin.")
    if ch.attr == "visibility":
        check_visibility_change(ctx, ch.value)
    if ch.attr in ("disk_format", "container_format") and state(obj) not in ("queued",
                                                                              "importing"):
        raise forbidden(f"Attribute {ch.attr} can be only replaced for a queued image.")
    spec[field] = sorted(set(ch.value), key=ch.value.index) if ch.attr == "tags" else ch.value
