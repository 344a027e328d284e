"""Tokens and the request's identity: issue, validate, revoke.

Tokens are Fernet-encrypted payloads (user, scope, methods, expiry, audit id)
signed with a key kept 0600 in the data dir, so any API replica sharing the key
validates them without a database round trip. The first validation of a token
reads the user, scope and role assignments from the store; later ones are a dict
hit, invalidated whenever an identity object changes (watch-fed generation) and
after ``CACHE_TTL`` at the latest.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request

from kumo import store
from kumo.core import identity
from kumo.core.passwords import hash_secret, verify_secret
from kumo.model import identity as m
from kumo.observe import metrics

from .errors import ApiError
from .runtime import runtime

CACHE_TTL = 60.0
__all__ = ["AuthContext", "AuthError", "TokenManager", "authenticate", "hash_secret",
           "verify_secret"]


class AuthError(Exception):
    """Authentication failed; the message never says whether the user exists."""


@dataclass(frozen=True)
class AuthContext:
    user_id: str
    user_name: str
    user_domain_id: str
    user_domain_name: str
    roles: tuple[tuple[str, str], ...]  # (id, name)
    methods: tuple[str, ...]
    issued_at: float
    expires_at: float
    audit_id: str
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    project_domain_name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None
    app_cred_id: str | None = None
    system: str | None = None  # "all" for a system-scoped token
    trust_id: str | None = None
    trust_impersonation: bool = False
    trustor_user_id: str | None = None
    trustee_user_id: str | None = None
    access_rules: tuple[dict[str, Any], ...] = ()  # of the application credential
    token: str = field(default="", repr=False)

    @property
    def role_names(self) -> set[str]:
        return {name for _, name in self.roles}

    @property
    def is_admin(self) -> bool:
        return "admin" in self.role_names

    @property
    def can_write(self) -> bool:
        return bool(self.role_names & {"admin", "member"})

    def can_read_project(self, project_id: str) -> bool:
        return self.is_admin or self.project_id == project_id

    def require_admin(self) -> None:
        if not self.is_admin:
            raise ApiError(403, "You are not authorized to perform the requested action: "
                                "admin required.", reason="Forbidden")


def load_or_create_key(data_dir: Path) -> bytes:
    path = data_dir / "fernet.key"
    if path.exists():
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


class TokenManager:
    """Issues and validates tokens against identity objects in the store."""

    def __init__(self, objects: store.ObjectStore, key: bytes, ttl: int = 3600) -> None:
        self.objects = objects
        self.fernet = Fernet(key)
        self.ttl = ttl
        self.generation = 0
        self._cache: dict[str, tuple[AuthContext, int, float]] = {}

    # ---- issue -----------------------------------------------------------
    def issue(self, user_id: str, *, methods: list[str], project_id: str | None = None,
              domain_id: str | None = None, expires_at: float | None = None,
              app_cred_id: str | None = None, audit_id: str | None = None,
              system: str | None = None, trust_id: str | None = None) -> str:
        now = time.time()
        exp = now + self.ttl if expires_at is None else min(expires_at, now + self.ttl)
        payload = {"u": user_id, "p": project_id, "d": domain_id, "m": methods, "i": now,
                   "e": exp, "a": audit_id or secrets.token_urlsafe(16), "c": app_cred_id}
        if system:
            payload["s"] = system
        if trust_id:
            payload["t"] = trust_id
        metrics.TOKENS_ISSUED.labels(methods[0] if methods else "unknown").inc()
        return self.fernet.encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode()

    # ---- validate -------------------------------------------------------
    def invalidate(self) -> None:
        """Drop every cached validation (an identity object changed)."""
        self.generation += 1
        self._cache.clear()

    async def validate(self, token: str) -> AuthContext:
        now = time.time()
        hit = self._cache.get(token)
        if hit is not None:
            ctx, gen, cached_at = hit
            if gen == self.generation and now < ctx.expires_at and now - cached_at < CACHE_TTL:
                metrics.TOKEN_CACHE_HITS.inc()
                metrics.TOKEN_VALIDATIONS.labels("ok").inc()
                return ctx
            self._cache.pop(token, None)
        gen = self.generation
        try:
            ctx = await self._validate_uncached(token, now)
        except AuthError:
            metrics.TOKEN_VALIDATIONS.labels("rejected").inc()
            raise
        metrics.TOKEN_VALIDATIONS.labels("ok").inc()
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[token] = (ctx, gen, now)
        metrics.TOKEN_CACHE_SIZE.set(len(self._cache))
        return ctx

    def payload(self, token: str) -> dict[str, Any]:
        try:
            return json.loads(self.fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError, TypeError) as exc:
            raise AuthError("The request you have made requires authentication.") from exc

    async def _validate_uncached(self, token: str, now: float) -> AuthContext:
        p = self.payload(token)
        if now >= p["e"]:
            raise AuthError("The token has expired.")
        if await self.objects.try_get(m.TOKEN_REVOCATION, "", p["a"]) is not None:
            raise AuthError("The token has been revoked.")
        user = await self.objects.try_get(m.USER, "", p["u"])
        if user is None or not user["spec"].get("enabled", True):
            raise AuthError("The request you have made requires authentication.")
        if p["i"] < user["spec"].get("tokensValidAfter", 0):
            raise AuthError("The token has been revoked.")
        cred = await self._app_cred(p, now) if p.get("c") else None
        udom = await self.objects.try_get(m.DOMAIN, "", user["spec"]["domainId"])
        if udom is None or not udom["spec"].get("enabled", True):
            raise AuthError("The request you have made requires authentication.")
        ctx: dict[str, Any] = {}
        if p.get("p"):
            proj = await self.objects.try_get(m.PROJECT, "", p["p"])
            if proj is None or not proj["spec"].get("enabled", True):
                raise AuthError("The project is disabled or gone.")
            _not_before(p, proj)
            pdom = await self.objects.try_get(m.DOMAIN, "", proj["spec"]["domainId"])
            trust = await self._trust(p, now) if p.get("t") else None
            roles = await self._project_roles(user, p["p"], trust)
            ctx = {**self._trust_ctx(trust), "project_id": p["p"],
                   "project_name": proj["spec"]["name"],
                   "project_domain_id": proj["spec"]["domainId"],
                   "project_domain_name": pdom["spec"]["name"] if pdom else ""}
        elif p.get("d"):
            dom = await self.objects.try_get(m.DOMAIN, "", p["d"])
            if dom is None or not dom["spec"].get("enabled", True):
                raise AuthError("The domain is disabled or gone.")
            _not_before(p, dom)
            roles = await self.roles_for(user["metadata"]["name"], "domain", p["d"])
            ctx = {"domain_id": p["d"], "domain_name": dom["spec"]["name"]}
        elif p.get("s"):
            roles = await self.roles_for(user["metadata"]["name"], "system", p["s"])
            ctx = {"system": p["s"]}
        else:
            roles = []
        if cred is not None:
            allowed = {r["id"] for r in cred["spec"].get("roles", [])}
            roles = [r for r in roles if r[0] in allowed]
            ctx["access_rules"] = tuple(cred["spec"].get("accessRules") or ())
        if (p.get("p") or p.get("d") or p.get("s")) and not roles:
            raise AuthError("The user has no role on the token's scope.")
        return AuthContext(
            user_id=p["u"], user_name=user["spec"]["name"],
            user_domain_id=user["spec"]["domainId"], user_domain_name=udom["spec"]["name"],
            roles=tuple(roles), methods=tuple(p["m"]), issued_at=p["i"], expires_at=p["e"],
            audit_id=p["a"], app_cred_id=p.get("c"), token=token, **ctx)

    async def _project_roles(self, user: dict[str, Any], project_id: str,
                             trust: dict[str, Any] | None) -> list[tuple[str, str]]:
        """The token user's roles; for a trust, the trustor's that the trust delegates."""
        if trust is None:
            return await self.roles_for(user["metadata"]["name"], "project", project_id)
        held = await self.roles_for(trust["spec"]["trustorUserId"], "project", project_id)
        allowed = {r["id"] for r in trust["spec"].get("roles", [])}
        return [r for r in held if r[0] in allowed]

    async def _trust(self, p: dict[str, Any], now: float) -> dict[str, Any]:
        """The trust of a trust-scoped token: gone, expired or not the token's user and
        project, and the token is dead."""
        trust = await self.objects.try_get(m.TRUST, "", p["t"])
        if trust is None:
            raise AuthError("The token has been revoked.")
        s = trust["spec"]
        exp = s.get("expiresAt")
        if (exp is not None and now >= float(exp)) or s.get("projectId") != p.get("p") or (
                p["u"] not in (s.get("trustorUserId"), s.get("trusteeUserId"))):
            raise AuthError("The token has been revoked.")
        return trust

    @staticmethod
    def _trust_ctx(trust: dict[str, Any] | None) -> dict[str, Any]:
        if trust is None:
            return {}
        s = trust["spec"]
        return {"trust_id": trust["metadata"]["name"],
                "trust_impersonation": bool(s.get("impersonation")),
                "trustor_user_id": s.get("trustorUserId"),
                "trustee_user_id": s.get("trusteeUserId")}

    async def _app_cred(self, p: dict[str, Any], now: float) -> dict[str, Any]:
        """The credential a token was issued from: gone, expired, or not the token's user
        and project, and the token is dead (re-scoped tokens carry the credential too)."""
        cred = await self.objects.try_get(m.APP_CREDENTIAL, "", p["c"])
        if cred is None:
            raise AuthError("The token has been revoked.")
        s = cred["spec"]
        exp = s.get("expiresAt")
        if (exp is not None and now >= float(exp)) or s.get("userId") != p["u"] or (
                s.get("projectId") != p.get("p")):
            raise AuthError("The token has been revoked.")
        return cred

    async def roles_for(self, user_id: str, scope_type: str, scope_id: str) -> list[tuple[str, str]]:
        """Effective roles of a user on a scope: direct, through groups, inherited, and
        implied (``kumo.core.identity.effective_roles``)."""
        return await identity.effective_roles(self.objects, user_id, scope_type, scope_id)

    async def revoke(self, token: str) -> None:
        p = self.payload(token)
        rev = m.obj(m.TOKEN_REVOCATION, p["a"], {"expiresAt": p["e"]})
        try:
            await self.objects.create(rev)
        except store.AlreadyExists:
            pass
        self.invalidate()


def _not_before(p: dict[str, Any], scope: dict[str, Any]) -> None:
    """A project or domain disabled after the token was issued revoked it for good."""
    if p["i"] < float(scope["spec"].get("tokensValidAfter") or 0):
        raise AuthError("The token has been revoked.")


def token_from(request: Request) -> str | None:
    tok = request.headers.get("x-auth-token")
    if tok:
        return tok
    authz = request.headers.get("authorization", "")
    if authz.lower().startswith("bearer "):
        return authz[7:].strip()
    return None


async def authenticate(request: Request) -> AuthContext:
    """The request's identity, or 401."""
    cached = request.scope.get("kumo.auth")
    if cached is not None:
        return cached
    tok = token_from(request)
    if not tok:
        raise ApiError(401, "The request you have made requires authentication.",
                       reason="Unauthorized")
    tokens = runtime(request).tokens
    try:
        ctx = await tokens.validate(tok)
    except AuthError as exc:
        raise ApiError(401, str(exc), reason="Unauthorized") from exc
    if ctx.access_rules and not _within_rules(request, ctx):
        raise ApiError(401, "The application credential's access rules do not allow this "
                            "request.", reason="Unauthorized")
    request.scope["kumo.auth"] = ctx
    return ctx


def _within_rules(request: Request, ctx: AuthContext) -> bool:
    """Match the request against the credential's access rules by the service type of
    the face it reached and its path inside that service (Keystone's: identity paths keep
    their ``/v3``; others lose their mount, so compute's are ``/v2.1/...``)."""
    path = request.url.path
    for svc in runtime(request).catalog:
        mount = "/" + svc.path.strip("/").split("/")[0]
        if path == mount or path.startswith(mount + "/"):
            inner = path if svc.type == "identity" else path[len(mount):] or "/"
            return identity.access_allowed(ctx.access_rules, svc.type, inner, request.method)
    return False
