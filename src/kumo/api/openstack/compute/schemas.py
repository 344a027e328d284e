"""Request bodies of the server API as pydantic models, mirroring Nova's JSON schemas.

Fields only some microversions accept are declared here and gated in the
handlers with ``gate()``, which answers exactly as an unknown property would.
"""

from __future__ import annotations

import binascii
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError
from starlette.requests import Request

from .common import bad
from .lookup import is_uuid
from .microversion import at_least

NAME_MSG = ("An invalid 'name' value was provided. The name must be: printable characters. "
            "Can not start or end with whitespace.")
_META_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")
_DIGITS = re.compile(r"^-?[0-9]+$")
USER_DATA_MAX = 65535
MAX_TAGS = 50


def _type_error(v: Any, types: str) -> ValueError:
    return ValueError(f"{v!r} is not of type {types}")


def _name(v: Any) -> str:
    if not isinstance(v, str):
        raise _type_error(v, "'string'")
    if len(v) > 255:
        raise ValueError(f"'{v[:40]}...' is too long")
    if not v or v != v.strip() or not v.isprintable():
        raise PydanticCustomError("nova_raw", NAME_MSG)
    return v


def _text(limit: int) -> Any:
    def check(v: Any) -> str | None:
        if v is None:
            return None
        if not isinstance(v, str):
            raise _type_error(v, "'string', 'null'")
        if len(v) > limit:
            raise ValueError(f"'{v[:40]}...' is too long")
        if not v.isprintable():
            raise ValueError(f"'{v[:40]}' does not match the description pattern")
        return v
    return check


def _positive(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise _type_error(v, "'integer', 'string'")
    if isinstance(v, str) and not v.isdigit():
        raise ValueError(f"'{v}' does not match '^[0-9]*$'")
    if int(v) < 1:
        raise ValueError(f"{v} is less than the minimum of 1")
    return int(v)


def _flavor_ref(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise _type_error(v, "'string', 'integer'")
    if v == "":
        raise ValueError("'' is too short")
    return str(v)


def _user_data(v: Any) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise _type_error(v, "'string'")
    if len(v) > USER_DATA_MAX:
        raise ValueError(f"'{v[:40]}...' is too long")
    try:
        binascii.a2b_base64(v.encode())
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise ValueError(f"'{v[:40]}' is not a 'base64'") from exc
    return v


def _metadata(v: Any) -> dict[str, str]:
    if not isinstance(v, dict):
        raise _type_error(v, "'object'")
    for key, value in v.items():
        if not _META_KEY.match(key):
            raise ValueError(f"Additional properties are not allowed ('{key}' was unexpected)")
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not of type 'string'")
        if len(value) > 255:
            raise ValueError(f"'{value[:40]}...' is too long")
    return v


def _tag(v: Any) -> str:
    if not isinstance(v, str):
        raise _type_error(v, "'string'")
    if not 1 <= len(v) <= 60 or "/" in v or "," in v:
        raise ValueError(f"'{v}' does not match '^[^,/]*$' or is not 1 to 60 characters long")
    return v


def _tags(v: Any) -> list[str]:
    if not isinstance(v, list):
        raise _type_error(v, "'array'")
    if len(v) > MAX_TAGS:
        raise ValueError(f"{v} is too long")
    return [_tag(t) for t in v]


def _image_ref(v: Any) -> str:
    if not isinstance(v, str):
        raise _type_error(v, "'string'")
    if v and not is_uuid(v):
        raise ValueError(f"'{v}' is not a 'uuid'")
    return v


def _length(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise _type_error(v, "'integer', 'string', 'null'")
    if isinstance(v, str) and not _DIGITS.match(v):
        raise ValueError(f"'{v}' does not match '^-?[0-9]+$'")
    if int(v) < -1:
        raise ValueError(f"{v} is less than the minimum of -1")
    return int(v)


Name = Annotated[str, BeforeValidator(_name)]
Description = Annotated[str | None, BeforeValidator(_text(255))]
PositiveInt = Annotated[int, BeforeValidator(_positive)]
FlavorRef = Annotated[str, BeforeValidator(_flavor_ref)]
UserData = Annotated[str | None, BeforeValidator(_user_data)]
Metadata = Annotated[dict[str, str], BeforeValidator(_metadata)]
Tags = Annotated[list[str], BeforeValidator(_tags)]
ImageRef = Annotated[str, BeforeValidator(_image_ref)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SecurityGroupRef(Strict):
    name: Name


class ServerCreate(Strict):
    name: Name
    imageRef: ImageRef | None = None
    flavorRef: FlavorRef
    adminPass: str | None = None
    metadata: Metadata | None = None
    networks: Any = None
    disk_config: str | None = Field(None, alias="OS-DCF:diskConfig")
    accessIPv4: str | None = None
    accessIPv6: str | None = None
    personality: list[Any] | None = None
    availability_zone: Name | None = None
    block_device_mapping: list[Any] | None = None
    block_device_mapping_v2: list[Any] | None = None
    config_drive: bool | None = None
    key_name: Name | None = None
    min_count: PositiveInt | None = None
    max_count: PositiveInt | None = None
    return_reservation_id: bool | None = None
    security_groups: list[SecurityGroupRef] | None = None
    user_data: UserData = None
    description: Description = None
    tags: Tags | None = None
    trusted_image_certificates: list[str] | None = None
    host: str | None = None
    hypervisor_hostname: str | None = None
    hostname: str | None = None


class CreateBody(Strict):
    server: ServerCreate
    hints: dict[str, Any] | None = Field(None, alias="os:scheduler_hints")
    legacy_hints: dict[str, Any] | None = Field(None, alias="OS-SCH-HNT:scheduler_hints")


class ServerUpdate(Strict):
    name: Name | None = None
    description: Description = None
    hostname: str | None = None
    disk_config: str | None = Field(None, alias="OS-DCF:diskConfig")
    accessIPv4: str | None = None
    accessIPv6: str | None = None


class UpdateBody(Strict):
    server: ServerUpdate


class Rebuild(Strict):
    imageRef: ImageRef
    name: Name | None = None
    adminPass: str | None = None
    metadata: Metadata | None = None
    preserve_ephemeral: bool | None = None
    disk_config: str | None = Field(None, alias="OS-DCF:diskConfig")
    accessIPv4: str | None = None
    accessIPv6: str | None = None
    personality: list[Any] | None = None
    description: Description = None
    key_name: str | None = None
    user_data: UserData = None
    trusted_image_certificates: list[str] | None = None
    hostname: str | None = None


class Reboot(Strict):
    type: str

    def kind(self) -> str:
        if self.type not in ("HARD", "Hard", "hard", "SOFT", "Soft", "soft"):
            raise bad(f"Invalid input for field/attribute type. Value: {self.type}. "
                      f"'{self.type}' is not one of ['HARD', 'Hard', 'hard', 'SOFT', "
                      "'Soft', 'soft']")
        return self.type.upper()


class ConsoleOutput(Strict):
    length: Annotated[int | None, BeforeValidator(_length)] = None


class Lock(Strict):
    locked_reason: Description = None


class MetadataBody(Strict):
    metadata: Metadata


class MetaBody(Strict):
    meta: Metadata


class TagsBody(Strict):
    tags: Tags


GATES = {"description": ("2.19", None), "tags": ("2.52", None), "personality": (None, "2.56"),
         "trusted_image_certificates": ("2.63", None), "host": ("2.74", None),
         "hypervisor_hostname": ("2.74", None), "hostname": ("2.90", None),
         "key_name": ("2.54", None), "user_data": ("2.57", None)}


def gate(request: Request, model: BaseModel, root: str, fields: tuple[str, ...]) -> None:
    """Reject fields the negotiated microversion does not know, as Nova does."""
    for name in fields:
        if name not in model.model_fields_set:
            continue
        low, high = GATES[name]
        too_old = low is not None and not at_least(request, low)
        too_new = high is not None and at_least(request, _next(high))
        if too_old or too_new:
            raise bad(f"Invalid input for field/attribute {root}. Value: {{...}}. Additional "
                      f"properties are not allowed ('{name}' was unexpected)")


def _next(v: str) -> str:
    major, minor = v.split(".")
    return f"{major}.{int(minor) + 1}"
