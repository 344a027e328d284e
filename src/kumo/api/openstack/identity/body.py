"""Strict request bodies for Keystone: a wrong type or missing field is a 400 naming it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from ...errors import ApiError


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class DomainBody(Loose):
    name: StrictStr = Field(min_length=1, max_length=64)
    description: StrictStr | None = None
    enabled: StrictBool = True


class DomainPatch(Loose):
    name: StrictStr | None = Field(default=None, min_length=1, max_length=64)
    description: StrictStr | None = None
    enabled: StrictBool | None = None


class ProjectBody(Loose):
    name: StrictStr = Field(min_length=1, max_length=64)
    domain_id: StrictStr | None = None
    parent_id: StrictStr | None = None
    description: StrictStr | None = None
    enabled: StrictBool = True
    is_domain: StrictBool = False
    tags: list[StrictStr] = []


class ProjectPatch(Loose):
    name: StrictStr | None = Field(default=None, min_length=1, max_length=64)
    description: StrictStr | None = None
    enabled: StrictBool | None = None
    tags: list[StrictStr] | None = None


class UserBody(Loose):
    name: StrictStr = Field(min_length=1, max_length=255)
    domain_id: StrictStr | None = None
    password: StrictStr | None = None
    enabled: StrictBool = True
    email: StrictStr | None = None
    description: StrictStr | None = None
    default_project_id: StrictStr | None = None


class UserPatch(Loose):
    name: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    password: StrictStr | None = None
    enabled: StrictBool | None = None
    email: StrictStr | None = None
    description: StrictStr | None = None
    default_project_id: StrictStr | None = None


class PasswordChange(BaseModel):
    original_password: StrictStr
    password: StrictStr = Field(min_length=1)


class RoleBody(Loose):
    name: StrictStr = Field(min_length=1, max_length=255)
    description: StrictStr | None = None
    domain_id: StrictStr | None = None


class GroupBody(Loose):
    name: StrictStr = Field(min_length=1, max_length=64)
    domain_id: StrictStr | None = None
    description: StrictStr | None = None


class AppCredBody(Loose):
    name: StrictStr = Field(min_length=1, max_length=255)
    secret: StrictStr | None = None
    description: StrictStr | None = None
    expires_at: StrictStr | None = None
    unrestricted: StrictBool = False
    roles: list[dict[str, Any]] | None = None


def parse(model: type[BaseModel], body: dict[str, Any], key: str) -> Any:
    """The ``key`` member of the body validated by ``model``; 400 names the bad field."""
    inner = body.get(key)
    if not isinstance(inner, dict):
        raise ApiError(400, f"Invalid input for field '{key}': an object is required.")
    try:
        return model.model_validate(inner)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or key
        raise ApiError(400, f"Invalid input for field '{field}': {err['msg']}.") from exc
