"""Glance's image attributes ↔ the stored Image object (see kumo.model.image).

Core attributes map onto ``spec``/``status`` fields; every other key of a
Glance image is an arbitrary string property kept in ``spec.properties`` and
flattened back to the top level of the JSON, as Glance does. Validation here
mirrors Glance's image schema (GET /v2/schemas/image).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from kumo.model.image import IMAGE
from kumo.store import now_iso

from ...errors import ApiError

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso",
                "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("public", "private", "shared", "community")
STATUSES = ("queued", "saving", "active", "killed", "deleted", "uploading", "importing",
            "pending_delete", "deactivated")
MEMBER_STATUSES = ("pending", "accepted", "rejected")

# Glance's RequestDeserializer sets: never writable / not even mentionable / reserved.
DISALLOWED = ("direct_url", "self", "file", "schema", "stores")
READONLY = ("created_at", "updated_at", "status", "checksum", "size", "virtual_size",
            "direct_url", "self", "file", "schema", "id", "os_hash_algo", "os_hash_value")
RESERVED = ("location", "deleted", "deleted_at")
RESERVED_PREFIX = "os_glance"
UUID_PROPERTIES = ("kernel_id", "ramdisk_id")  # typed by Glance's shipped schema-image.json
MAX_PROPERTIES = 128
MAX_TAGS = 128
MAX_MEMBERS = 128

# Writable core attribute (Glance name) → spec field.
CORE = {"name": "name", "visibility": "visibility", "protected": "protected",
        "os_hidden": "osHidden", "disk_format": "diskFormat",
        "container_format": "containerFormat", "min_disk": "minDisk", "min_ram": "minRam",
        "owner": "owner", "tags": "tags"}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")


def bad(message: str) -> ApiError:
    return ApiError(400, message, reason="BadRequest")


def forbidden(message: str) -> ApiError:
    return ApiError(403, message, reason="Forbidden")


def not_found(image_id: str) -> ApiError:
    return ApiError(404, f"No image found with ID {image_id}", reason="NotFound")


def non_negative(raw: str, not_int: str, negative: str) -> int:
    """A query or header integer: 400 with ``not_int`` or ``negative`` when it is not one."""
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad(not_int) from exc
    if value < 0:
        raise bad(negative)
    return value


def glance_time(ts: str | None) -> str | None:
    """Glance prints whole seconds: 2024-05-01T12:00:00Z."""
    return ts[:19] + "Z" if ts else None


def parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad(f'Bad "{value}" query filter format. Use ISO 8601 DateTime notation.') from exc


# ---- validation -----------------------------------------------------------
def _check_str(attr: str, value: Any, *, nullable: bool = True, enum: tuple[str, ...] = ()) -> None:
    if value is None and nullable:
        return
    if not isinstance(value, str):
        raise bad(f"Invalid value for '{attr}': {value!r} is not of type 'string'.")
    if len(value) > 255:
        raise bad(f"Invalid value for '{attr}': longer than 255 characters.")
    if enum and value not in enum:
        raise bad(f"Invalid value for '{attr}': {value!r} is not one of {list(enum)}.")


def check_core(attr: str, value: Any) -> None:
    """One core attribute's value, as the image schema types it (400 if not)."""
    if attr in ("protected", "os_hidden"):
        if not isinstance(value, bool):
            raise bad(f"Invalid value for '{attr}': {value!r} is not of type 'boolean'.")
    elif attr in ("min_disk", "min_ram"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad(f"Invalid value for '{attr}': {value!r} is not of type 'integer'.")
        if value < 0:
            raise bad(f"Invalid value '{value}' for parameter '{attr}': Cannot be a negative value")
    elif attr == "tags":
        check_tags(value)
    elif attr == "disk_format":
        _check_str(attr, value, enum=DISK_FORMATS)
    elif attr == "container_format":
        _check_str(attr, value, enum=CONTAINER_FORMATS)
    elif attr == "visibility":
        _check_str(attr, value, nullable=False, enum=VISIBILITIES)
    else:
        _check_str(attr, value)


def check_tags(value: Any) -> None:
    if not isinstance(value, list):
        raise bad(f"Invalid value for 'tags': {value!r} is not of type 'array'.")
    for tag in value:
        check_tag(tag)
    if len(set(value)) > MAX_TAGS:
        raise ApiError(413, f"Maximum number of tags ({MAX_TAGS}) exceeded.",
                       reason="RequestEntityTooLarge")


def check_tag(tag: Any) -> None:
    if not isinstance(tag, str) or not tag or len(tag) > 255:
        raise bad(f"Invalid tag {tag!r}: a tag is a non-empty string of at most 255 characters.")


MAX_PROPERTY_VALUE = 65535  # Glance stores property values in a TEXT column


def check_property(key: str, value: Any, *, removing: bool = False) -> None:
    """An arbitrary property: its name is not reserved; its value is a string."""
    if key in RESERVED or key.startswith(RESERVED_PREFIX):
        raise forbidden(f"Attribute '{key}' is reserved.")
    if not key or len(key) > 255:
        raise bad("Custom property should not be greater than 255 characters.")
    if removing:
        return
    if key in UUID_PROPERTIES:
        if value is not None and not (isinstance(value, str) and _UUID.match(value)):
            raise bad(f"Invalid value for '{key}': {value!r} is not an image id.")
    elif not isinstance(value, str):
        raise bad(f"Invalid value for '{key}': {value!r} is not of type 'string'.")
    elif len(value) > MAX_PROPERTY_VALUE:
        raise bad(f"Invalid value for '{key}': longer than {MAX_PROPERTY_VALUE} characters.")


def check_properties_quota(properties: dict[str, Any]) -> None:
    if len(properties) > MAX_PROPERTIES:
        raise ApiError(413, f"Maximum number of image properties ({MAX_PROPERTIES}) exceeded.",
                       reason="RequestEntityTooLarge")


def check_image_id(image_id: Any) -> str:
    if not isinstance(image_id, str) or not _UUID.match(image_id):
        raise bad(f"Invalid value for 'id': {image_id!r} does not match the UUID pattern.")
    return image_id.lower()


# ---- object ↔ Glance JSON ------------------------------------------------
def new_image(image_id: str, owner: str | None, core: dict[str, Any],
              properties: dict[str, str]) -> dict[str, Any]:
    spec = {"name": None, "owner": owner, "visibility": "shared", "protected": False,
            "osHidden": False, "diskFormat": None, "containerFormat": None, "minDisk": 0,
            "minRam": 0, "tags": [], "properties": properties, "members": {},
            "memberTimes": {}}
    for attr, value in core.items():
        spec[CORE[attr]] = sorted(set(value), key=value.index) if attr == "tags" else value
    return {"apiVersion": "kumo.io/v1", "kind": IMAGE,
            "metadata": {"name": image_id, "namespace": "", "labels": labels_of(spec)},
            "spec": spec, "status": {"state": "queued", "updatedAt": now_iso()}}


def labels_of(spec: dict[str, Any]) -> dict[str, str]:
    return {"owner": spec.get("owner") or "", "visibility": spec["visibility"]}


def touch(obj: dict[str, Any]) -> None:
    """Stamp updated_at and keep the selector labels in step with the spec."""
    obj.setdefault("status", {})["updatedAt"] = now_iso()
    obj["metadata"]["labels"] = {**(obj["metadata"].get("labels") or {}),
                                 **labels_of(obj["spec"])}


def state(obj: dict[str, Any]) -> str:
    return (obj.get("status") or {}).get("state", "queued")


def view(obj: dict[str, Any]) -> dict[str, Any]:
    """The Glance JSON of an image: core attributes plus flattened properties."""
    spec, st = obj["spec"], obj.get("status") or {}
    image_id = obj["metadata"]["name"]
    out: dict[str, Any] = dict(spec.get("properties") or {})
    out.update({
        "id": image_id, "name": spec.get("name"), "status": st.get("state", "queued"),
        "visibility": spec["visibility"], "protected": bool(spec.get("protected")),
        "os_hidden": bool(spec.get("osHidden")), "owner": spec.get("owner"),
        "disk_format": spec.get("diskFormat"), "container_format": spec.get("containerFormat"),
        "min_disk": spec.get("minDisk", 0), "min_ram": spec.get("minRam", 0),
        "size": st.get("size"), "virtual_size": st.get("virtualSize"),
        "checksum": st.get("checksum"), "os_hash_algo": st.get("osHashAlgo"),
        "os_hash_value": st.get("osHashValue"), "tags": list(spec.get("tags") or []),
        "created_at": glance_time(obj["metadata"].get("creationTimestamp")),
        "updated_at": glance_time(st.get("updatedAt") or obj["metadata"].get("creationTimestamp")),
        "self": f"/v2/images/{image_id}", "file": f"/v2/images/{image_id}/file",
        "schema": "/v2/schemas/image",
    })
    if st.get("blob") and st.get("state") in ("active", "deactivated"):
        out["stores"] = "local"  # the one store of /v2/info/stores
    return out


def member_view(obj: dict[str, Any], member: str) -> dict[str, Any]:
    times = (obj["spec"].get("memberTimes") or {}).get(member) or {}
    created = times.get("createdAt") or obj["metadata"].get("creationTimestamp")
    return {"image_id": obj["metadata"]["name"], "member_id": member,
            "status": obj["spec"]["members"][member], "created_at": glance_time(created),
            "updated_at": glance_time(times.get("updatedAt") or created),
            "schema": "/v2/schemas/member"}


def parse_create(body: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(id, core attributes, properties) of a create request, or 400/403."""
    for key in DISALLOWED:
        if key in body:
            raise forbidden(f"Attribute '{key}' is read-only.")
    for key in READONLY:
        if key in body and key != "id":
            raise forbidden(f"Attribute '{key}' is read-only.")
    image_id = check_image_id(body["id"]) if "id" in body else str(uuid.uuid4())
    core: dict[str, Any] = {}
    props: dict[str, str] = {}
    for key, value in body.items():
        if key == "id":
            continue
        if key in CORE:
            check_core(key, value)
            core[key] = value
        else:
            check_property(key, value)
            props[key] = value
    check_properties_quota(props)
    return image_id, core, props
