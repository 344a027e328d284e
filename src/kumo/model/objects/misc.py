"""Kinds that belong to no one service: ConfigMap (tenant data) and Event (one per step)."""

from __future__ import annotations

from pydantic import Field

from kumo.model.base import Model, Resource


class ConfigMap(Resource):
    """Tenant key/value data: values are strings, as in Kubernetes."""

    KIND = "ConfigMap"
    data: dict[str, str] = Field(default_factory=dict)


class InvolvedObject(Model):
    kind: str | None = None
    name: str = ""
    namespace: str = ""
    uid: str | None = None
    resource_version: str | None = None


class Event(Resource):
    """Flat like a Kubernetes Event (no spec): written once by the component it names."""

    KIND = "Event"
    involved_object: InvolvedObject = Field(default_factory=InvolvedObject)
    component: str = ""
    reason: str = ""
    message: str = ""
    type: str = "Normal"
    start_time: str | None = None
    end_time: str | None = None
    request_id: str | None = None
