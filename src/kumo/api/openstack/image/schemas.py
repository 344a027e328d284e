"""The JSON schemas Glance serves under /v2/schemas (clients validate against them)."""

from __future__ import annotations

from typing import Any

from .model import CONTAINER_FORMATS, DISK_FORMATS, MEMBER_STATUSES, STATUSES, VISIBILITIES

_UUID_PATTERN = ("^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
                 "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$")


def _s(description: str, kind: Any = "string", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "description": description, **extra}


def _ro(description: str, kind: Any = "string", **extra: Any) -> dict[str, Any]:
    return _s(description, kind, readOnly=True, **extra)


def image_properties() -> dict[str, Any]:
    nullable = ["null", "string"]
    return {
        "id": _s("An identifier for the image", pattern=_UUID_PATTERN),
        "name": _s("Descriptive name for the image", nullable, maxLength=255),
        "status": _ro("Status of the image", enum=list(STATUSES)),
        "visibility": _s("Scope of image accessibility", enum=list(VISIBILITIES)),
        "protected": _s("If true, image will not be deletable.", "boolean"),
        "os_hidden": _s("If true, image will not appear in default image list response.",
                        "boolean"),
        "checksum": _ro("md5 hash of image contents.", nullable, maxLength=32),
        "os_hash_algo": _ro("Algorithm to calculate the os_hash_value", nullable,
                            maxLength=64),
        "os_hash_value": _ro("Hexdigest of the image contents using the algorithm "
                             "specified by the os_hash_algo", nullable, maxLength=128),
        "owner": _s("Owner of the image", nullable, maxLength=255),
        "size": _ro("Size of image file in bytes", ["null", "integer"]),
        "virtual_size": _ro("Virtual size of image in bytes", ["null", "integer"]),
        "container_format": _s("Format of the container", nullable,
                               enum=[None, *CONTAINER_FORMATS]),
        "disk_format": _s("Format of the disk", nullable, enum=[None, *DISK_FORMATS]),
        "created_at": _ro("Date and time of image registration"),
        "updated_at": _ro("Date and time of the last image modification"),
        "tags": _s("List of strings related to the image", "array",
                   items={"type": "string", "maxLength": 255}),
        "direct_url": _ro("URL to access the image file kept in external store"),
        "min_ram": _s("Amount of ram (in MB) required to boot image.", "integer"),
        "min_disk": _s("Amount of disk space (in GB) required to boot image.", "integer"),
        "self": _ro("An image self url"),
        "file": _ro("An image file url"),
        "stores": _ro("Store in which image data resides."),
        "schema": _ro("An image schema url"),
        "locations": _s("A set of URLs to access the image file kept in external store",
                        "array", items={"type": "object", "properties": {
                            "url": {"type": "string", "maxLength": 255},
                            "metadata": {"type": "object"}},
                            "required": ["url", "metadata"]}),
        "kernel_id": _s("ID of image stored in Glance that should be used as the kernel "
                        "when booting an AMI-style image.", nullable, pattern=_UUID_PATTERN),
        "ramdisk_id": _s("ID of image stored in Glance that should be used as the ramdisk "
                         "when booting an AMI-style image.", nullable, pattern=_UUID_PATTERN),
    }


def image_schema() -> dict[str, Any]:
    return {"name": "image", "properties": image_properties(),
            "additionalProperties": {"type": "string"},
            "links": [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
                      {"rel": "describedby", "href": "{schema}"}]}


def member_schema() -> dict[str, Any]:
    return {"name": "member", "additionalProperties": False, "properties": {
        "member_id": _s("An identifier for the image member (tenantId)"),
        "image_id": _s("An identifier for the image", pattern=_UUID_PATTERN),
        "created_at": _s("Date and time of image member creation"),
        "updated_at": _s("Date and time of last modification of image member"),
        "status": _s("The status of this image member", enum=list(MEMBER_STATUSES)),
        "schema": {"readOnly": True, "type": "string"},
    }}


def collection(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "properties": {
        name: {"type": "array", "items": item}, "first": {"type": "string"},
        "next": {"type": "string"}, "schema": {"type": "string"}},
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}]}


SCHEMAS = {
    "image": image_schema,
    "images": lambda: collection("images", image_schema()),
    "member": member_schema,
    "members": lambda: collection("members", member_schema()),
}


# ---- metadata definitions (/v2/schemas/metadefs/*) -----------------------------------
def _stamps() -> dict[str, Any]:
    return {"created_at": _ro("Date and time of creation", format="date-time"),
            "updated_at": _ro("Date and time of the last modification", format="date-time")}


def _metadef_property() -> dict[str, Any]:
    return {"name": "property", "additionalProperties": True, "required": ["name", "title",
                                                                              "type"],
            "properties": {"name": _s("Property name", maxLength=255),
                           "title": _s("Property title"), "description": _s("Description"),
                           "type": _s("Property type", enum=["array", "boolean", "integer",
                                                             "number", "object", "string",
                                                             None]),
                           "enum": _s("Allowed values", "array"),
                           "readonly": _s("Read-only", "boolean")}}


def _metadef_object() -> dict[str, Any]:
    return {"name": "object", "additionalProperties": False, "required": ["name"],
            "properties": {"name": _s("Object name", maxLength=255),
                           "description": _s("Description"),
                           "required": _s("Required properties", "array"),
                           "properties": _s("Properties", "object"),
                           "schema": _ro("Schema url"), "self": _ro("Self url"),
                           **_stamps()}}


def _metadef_tag() -> dict[str, Any]:
    return {"name": "tag", "additionalProperties": False, "required": ["name"],
            "properties": {"name": _s("Tag name", maxLength=255), **_stamps()}}


def _metadef_association() -> dict[str, Any]:
    return {"name": "resource_type_association", "additionalProperties": False,
            "required": ["name"], "properties": {
                "name": _s("Resource type name", maxLength=80),
                "prefix": _s("Prefix of the namespace's properties for this type"),
                "properties_target": _s("Where the properties apply"), **_stamps()}}


def _metadef_namespace() -> dict[str, Any]:
    return {"name": "namespace", "additionalProperties": False, "required": ["namespace"],
            "properties": {
                "namespace": _s("Namespace name", maxLength=80),
                "display_name": _s("Display name", maxLength=80),
                "description": _s("Description", maxLength=500),
                "visibility": _s("Scope of namespace accessibility",
                                 enum=["public", "private"]),
                "protected": _s("If true, the namespace cannot be deleted", "boolean"),
                "owner": _s("Owner of the namespace", maxLength=255),
                "resource_type_associations": _s("Associated resource types", "array",
                                                 items=_metadef_association()),
                "properties": _s("Properties", "object"),
                "objects": _s("Objects", "array", items=_metadef_object()),
                "tags": _s("Tags", "array", items=_metadef_tag()),
                "schema": _ro("Schema url"), "self": _ro("Self url"), **_stamps()}}


def _plain_list(name: str, key: str, item: dict[str, Any]) -> dict[str, Any]:
    out = collection(name, item)
    out["properties"][key] = out["properties"].pop(name)
    return out


SCHEMAS.update({
    "metadefs/namespace": _metadef_namespace,
    "metadefs/namespaces": lambda: collection("namespaces", _metadef_namespace()),
    "metadefs/object": _metadef_object,
    "metadefs/objects": lambda: collection("objects", _metadef_object()),
    "metadefs/property": _metadef_property,
    "metadefs/properties": lambda: collection("properties", _metadef_property()),
    "metadefs/tag": _metadef_tag,
    "metadefs/tags": lambda: collection("tags", _metadef_tag()),
    "metadefs/resource_type": _metadef_association,
    "metadefs/resource_types": lambda: _plain_list(
        "resource_type_associations", "resource_type_associations", _metadef_association()),
})
