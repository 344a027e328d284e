"""Keypairs: per user, Keypair objects named "<user id>.<sha256 of the key name>".

Import an OpenSSH public key (or an x509 certificate) or, before microversion
2.92, let the API generate one: RSA 2048 as Nova does, the private key
returned once and never stored. Fingerprints are Nova's: MD5 of the key blob in
colon hex for ssh, SHA-1 of the certificate for x509.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.core import quotas
from kumo.core.errors import QuotaExceeded
from kumo.model import compute as cm

from ...auth import AuthContext
from ...runtime import runtime
from .common import (
    bad,
    body_of_any,
    caller,
    conflict,
    forbidden,
    limit_marker,
    microtime,
    next_link,
    not_found,
    page,
    parse_model,
    policy_denied,
    project_of,
)
from .lookup import keypair_name
from .microversion import at_least
from .quotas import limits_for
from .schemas import NAME_MSG

Obj = dict[str, Any]
_NAME = re.compile(r"^[_\- a-zA-Z0-9]+$")
_NAME_292 = re.compile(r"^[_\-@. a-zA-Z0-9]+$")


class KeypairCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Any
    public_key: str | None = None
    type: str | None = None
    user_id: str | None = None


class KeypairBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keypair: KeypairCreate


def ssh_fingerprint(public_key: str) -> str:
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.split()[1])
    except (ValueError, IndexError, binascii.Error, TypeError, UnsupportedAlgorithm) as exc:
        raise bad("Keypair data is invalid: failed to generate fingerprint") from exc
    raw = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(raw[i:i + 2] for i in range(0, len(raw), 2))


def x509_fingerprint(pem: str) -> str:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise bad("Keypair data is invalid: failed to generate X509 fingerprint. Error "
                  f"message: {exc}") from exc
    raw = cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - Nova's fingerprint format
    return ":".join(raw[i:i + 2] for i in range(0, len(raw), 2))


def generate_ssh() -> tuple[str, str, str]:
    """(private PEM, "ssh-rsa … Generated-by-Nova", fingerprint), as Nova generates."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    public = f"{public} Generated-by-Nova"
    return private, public, ssh_fingerprint(public)


def generate_x509(user_id: str) -> tuple[str, str, str]:
    """A self-signed client certificate for WinRM-style x509 keypairs."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return private, pem, x509_fingerprint(pem)


def _check_name(request: Request, name: Any) -> str:
    if not isinstance(name, str):
        raise bad(f"Invalid input for field/attribute name. Value: {name}. "
                  f"{name!r} is not of type 'string'")
    if not name or name != name.strip() or not name.isprintable():
        raise bad(NAME_MSG)
    pattern = _NAME_292 if at_least(request, "2.92") else _NAME
    if len(name) > 255 or not pattern.match(name):
        raise bad(f"Invalid input for field/attribute name. Value: {name}. "
                  f"'{name}' does not match '{pattern.pattern}'")
    return name


def _user(request: Request, ctx: AuthContext, wanted: str | None, rule: str) -> str:
    if wanted is None or wanted == ctx.user_id:
        return ctx.user_id
    if not at_least(request, "2.10"):
        return ctx.user_id
    if not ctx.is_admin:
        raise policy_denied(f"os_compute_api:os-keypairs:{rule}")
    return wanted


def _view(request: Request, kp: Obj, fields: tuple[str, ...]) -> Obj:
    spec, md = kp["spec"], kp["metadata"]
    full = {"name": spec["name"], "public_key": spec["publicKey"],
            "fingerprint": spec["fingerprint"], "user_id": spec["userId"], "type": spec["type"],
            "created_at": microtime(md.get("creationTimestamp")), "deleted": False,
            "deleted_at": None, "updated_at": None,
            "id": int(md.get("uid", "0").replace("-", "")[:7] or "0", 16)}
    out = {k: full[k] for k in fields}
    if at_least(request, "2.2"):
        out["type"] = spec["type"]
    return out


async def _create_counted(objects: store.ObjectStore, project: str, obj: Obj) -> Obj:
    """Claim the user's keypair quota (one CAS on the user's counter: racing creates never
    pass the limit), then write; a failed write gives back what it claimed."""
    spec, kp_name = obj["spec"], obj["metadata"]["name"]
    allowed = (await limits_for(objects, project))["key_pairs"]
    try:
        granted = await quotas.claim(objects, spec["userId"], quotas.KEYPAIRS,
                                     {kp_name: {"key_pairs": 1}}, {"key_pairs": allowed})
    except QuotaExceeded as exc:
        raise forbidden("Maximum number of key pairs exceeded") from exc
    try:
        return await objects.create(obj)
    except BaseException as exc:
        if kp_name in granted and await objects.try_get(cm.KEYPAIR, "", kp_name) is None:
            await quotas.release(objects, spec["userId"], quotas.KEYPAIRS, [kp_name])
        if isinstance(exc, store.AlreadyExists):
            raise conflict(f"Key pair '{spec['name']}' already exists.") from exc
        raise


async def create(request: Request) -> Response:
    ctx = await caller(request)
    data = await body_of_any(request)
    body = parse_model(KeypairBody, data, "keypair").keypair
    fields = body.model_fields_set
    if "type" in fields and not at_least(request, "2.2") or \
            "user_id" in fields and not at_least(request, "2.10"):
        extra = "type" if "type" in fields and not at_least(request, "2.2") else "user_id"
        raise bad("Invalid input for field/attribute keypair. Value: {...}. Additional "
                  f"properties are not allowed ('{extra}' was unexpected)")
    name = _check_name(request, body.name)
    key_type = body.type or "ssh"
    if key_type not in ("ssh", "x509"):
        raise bad(f"Invalid input for field/attribute type. Value: {key_type}. "
                  f"'{key_type}' is not one of ['ssh', 'x509']")
    if body.public_key is None and at_least(request, "2.92"):
        raise bad("Invalid input for field/attribute keypair. Value: {...}. "
                  "'public_key' is a required property")
    user_id = _user(request, ctx, body.user_id, "create")
    objects = runtime(request).objects
    private = None
    if body.public_key is not None:
        public = body.public_key
        fingerprint = ssh_fingerprint(public) if key_type == "ssh" else x509_fingerprint(public)
    elif key_type == "ssh":
        private, public, fingerprint = generate_ssh()
    else:
        private, public, fingerprint = generate_x509(user_id)
    obj = {"apiVersion": "kumo.io/v1", "kind": cm.KEYPAIR,
           "metadata": {"name": keypair_name(user_id, name), "labels": {"user": user_id}},
           "spec": {"name": name, "userId": user_id, "publicKey": public,
                    "fingerprint": fingerprint, "type": key_type}}
    created = await _create_counted(objects, project_of(ctx), obj)
    view = _view(request, created, ("name", "public_key", "fingerprint", "user_id"))
    if private is not None:
        view["private_key"] = private
    return JSONResponse({"keypair": view}, status_code=201 if at_least(request, "2.2") else 200)


async def index(request: Request) -> Response:
    ctx = await caller(request)
    user_id = _user(request, ctx, request.query_params.get("user_id"), "index")
    found = await runtime(request).objects.list(cm.KEYPAIR, "", label_selector=f"user={user_id}")
    items = sorted(found.items, key=lambda k: k["spec"]["name"])
    paged = at_least(request, "2.35")
    if paged:
        limit, marker = limit_marker(request)
        items = page(items, lambda k: k["spec"]["name"], limit, marker)
    body: Obj = {"keypairs": [{"keypair": _view(request, k, ("name", "public_key",
                                                              "fingerprint"))} for k in items]}
    if paged and items and len(items) == limit:
        body["keypairs_links"] = next_link(request, "os-keypairs", items[-1]["spec"]["name"])
    return JSONResponse(body)


async def _get(request: Request, rule: str) -> tuple[Obj | None, str, str]:
    ctx = await caller(request)
    user_id = _user(request, ctx, request.query_params.get("user_id"), rule)
    name = request.path_params["name"]
    kp = await runtime(request).objects.try_get(cm.KEYPAIR, "", keypair_name(user_id, name))
    return kp, name, user_id


async def show(request: Request) -> Response:
    kp, name, user_id = await _get(request, "show")
    if kp is None:
        raise not_found(f"Keypair {name} not found for user {user_id}")
    return JSONResponse({"keypair": _view(request, kp, (
        "name", "public_key", "fingerprint", "user_id", "created_at", "deleted", "deleted_at",
        "id", "updated_at"))})


async def delete(request: Request) -> Response:
    kp, name, user_id = await _get(request, "delete")
    if kp is None:
        raise not_found(f"Keypair {name} not found for user {user_id}")
    try:
        await runtime(request).objects.delete(cm.KEYPAIR, "", kp["metadata"]["name"])
    except store.NotFound as exc:
        raise not_found(f"Keypair {name} not found for user {user_id}") from exc
    await quotas.release(runtime(request).objects, user_id, quotas.KEYPAIRS,
                         [kp["metadata"]["name"]])
    return Response(status_code=204 if at_least(request, "2.2") else 202)
