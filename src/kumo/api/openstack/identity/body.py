"""Strict request bodies for Keystone: a wrong type or missing field is a 400 naming it."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from ...errors import ApiError

# Keystone's bounds: descriptions are TEXT (64 KiB) but a role's is 255; passwords at most
# ``max_password_length`` (4096); at most 80 project tags of 1-255 characters, no '/' or ','.
Description = Annotated[StrictStr, Field(max_length=65535)]
Password = Annotated[StrictStr, Field(max_length=4096)]
Short = Annotated[StrictStr, Field(max_length=255)]
Tag = Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=r"^[^/,]*$")]
Tags = Annotated[list[Tag], Field(max_length=80)]


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class DomainBody(Loose):
    name: StrictStr = Field(min_length=1, max_length=64)
    description: Description | None = None
    enabled: StrictBool = True


class DomainPatch(Loose):
    name: StrictStr | None = Field(default=None, min_length=1, max_length=64)
    description: Description | None = None
    enabled: StrictBool | None = None


class ProjectBody(Loose):
    name: StrictStr = Field(min_length=1, max_length=64)
    domain_id: StrictStr | None = None
    parent_id: StrictStr | None = None
    description: Description | None = None
    enabled: StrictBool = True
    is_domain: StrictBool = False
    tags: Tags = []


class ProjectPatch(Loose):
    name: StrictStr | None = Field(default=None, min_length=1, max_length=64)
    description: Description | None = None
    enabled: StrictBool | None = None
    tags: Tags | None = None


class UserBody(Loose):
    name: StrictStr = Field(min_length=1, max_length=255)
    domain_id: StrictStr | None = None
    password: Password | None = None
    enabled: StrictBool = True
    email: Short | None = None
    description: Description | None = None
    default_project_id: StrictStr | None = None


class UserPatch(Loose):
    name: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    password: Password | None = None
    enabled: StrictBool | None = None
    email: Short | None = None
    description: Description | None = None
    default_project_id: StrictStr | None = None


class PasswordChange(BaseModel):
    original_password: Password
    password: StrictStr = Field(min_length=1, max_length=4096)


class RoleBody(Loose):
    name: StrictStr = Field(min_length=1, max_length=255)
    description: Short | None = None
    domain_id: StrictStr | None = None


class GroupBody(Loose):
    name: StrictStr = Field(min_length=1, max_length=64)
    domain_id: StrictStr | None = None
    description: Description | None = None


class GroupPatch(Loose):
    name: StrictStr | None = Field(default=None, min_length=1, max_length=64)
    description: Description | None = None


class AppCredBody(Loose):
    name: StrictStr = Field(min_length=1, max_length=255)
    secret: StrictStr | None = None
    description: Description | None = None
    expires_at: StrictStr | None = None
    unrestricted: StrictBool = False
    roles: list[dict[str, Any]] | None = None
    access_rules: list[dict[str, Any]] | None = None


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
