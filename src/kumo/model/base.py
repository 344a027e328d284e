"""Typed objects: the Kubernetes-style envelope and the base every kind's model uses.

Stored objects stay plain JSON in camelCase (the native API's wire format); these
pydantic models give the core and the faces attribute access and validation:

    port = Port.from_obj(raw)          # dict from the store or the wire -> typed
    port.spec.network_id               # snake_case in Python, networkId on the wire
    raw = port.to_obj()                # typed -> dict for the store

Fields nobody declared are kept (``extra="allow"``), so an older kumo reading a
newer object does not drop what it does not know. Validation costs ~7 µs for a
Server, less than the deep copy the store already makes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .registry import API_VERSION

Obj = dict[str, Any]


_MODELS: dict[str, type[Resource]] = {}


def model_for(kind: str) -> type[Resource] | None:
    """The typed model of a kind (every Resource subclass with a KIND registers itself)."""
    return _MODELS.get(kind)


class Model(BaseModel):
    """camelCase on the wire, snake_case in Python, unknown fields kept."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow",
                              validate_assignment=False)

    def dump(self) -> Obj:
        return self.model_dump(by_alias=True, mode="json")


class Named(Model):
    """What most OpenStack resources carry besides their own fields."""

    name: str = ""
    description: str | None = None
    tags: list[str] = Field(default_factory=list)


class OwnerReference(Model):
    api_version: str = API_VERSION
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(Model):
    name: str
    namespace: str = ""
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    generate_name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    finalizers: list[str] = Field(default_factory=list)
    owner_references: list[OwnerReference] = Field(default_factory=list)

    def dump(self) -> Obj:
        # the store stamps uid, timestamps and revision: never write them as null
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


class Resource(Model):
    """apiVersion, kind, metadata, spec (desired), status (observed).

    Subclasses set ``KIND`` and declare ``spec`` and ``status`` with their own models.
    """

    KIND: ClassVar[str] = ""
    api_version: str = API_VERSION
    kind: str = ""
    metadata: ObjectMeta

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.KIND:
            _MODELS[cls.KIND] = cls

    def model_post_init(self, _: Any) -> None:
        if not self.kind:
            self.kind = self.KIND

    @classmethod
    def from_obj(cls, obj: Obj) -> Self:
        return cls.model_validate(obj)

    @classmethod
    def new(cls, name: str, namespace: str = "", *, labels: dict[str, str] | None = None,
            **fields: Any) -> Self:
        """A fresh object (not yet stored): metadata from the arguments, the rest as given."""
        meta = ObjectMeta(name=name, namespace=namespace, labels=dict(labels or {}))
        return cls(metadata=meta, **fields)

    def to_obj(self) -> Obj:
        out = self.model_dump(by_alias=True, mode="json", exclude={"metadata"})
        out["metadata"] = self.metadata.dump()
        return out

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def deleting(self) -> bool:
        return self.metadata.deletion_timestamp is not None
