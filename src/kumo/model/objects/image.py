"""The Image kind (Glance; field owners: ``kumo.model.image``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kumo.model import image as im
from kumo.model.base import Model, Resource


class ImageSpec(Model):
    name: str | None = None
    owner: str | None = None
    visibility: str = "shared"
    protected: bool = False
    disk_format: str | None = None
    container_format: str | None = None
    min_disk: int = 0
    min_ram: int = 0
    tags: list[str] = Field(default_factory=list)
    properties: dict[str, Any] = Field(default_factory=dict)
    members: dict[str, str] = Field(default_factory=dict)
    os_hidden: bool = False


class ImageStatus(Model):
    state: str = "queued"
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    size: int | None = None
    virtual_size: int | None = None
    blob: str | None = None
    upload_started_at: str | None = None


class Image(Resource):
    KIND = im.IMAGE
    spec: ImageSpec = Field(default_factory=ImageSpec)
    status: ImageStatus = Field(default_factory=ImageStatus)


class MetadefNamespaceSpec(Model):
    """Everything of one namespace in one object, so a namespace and its parts change
    together (one CAS write) and go together."""

    display_name: str | None = None
    description: str | None = None
    visibility: str = "private"
    protected: bool = False
    owner: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    resource_type_associations: list[dict[str, Any]] = Field(default_factory=list)
    properties: dict[str, dict[str, Any]] = Field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tags: dict[str, dict[str, Any]] = Field(default_factory=dict)


class MetadefNamespace(Resource):
    KIND = im.METADEF_NAMESPACE
    spec: MetadefNamespaceSpec = Field(default_factory=MetadefNamespaceSpec)
