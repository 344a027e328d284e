"""Proving who you are: password and application-credential logins.

Every path costs one argon2 verify on the hashing pool, whether or not the user (or
its domain, or the credential) exists, so neither the answer nor its timing tells an
existing name from an unknown one; and every refusal answers ``login_failure_delay``
after the attempt began, so the store write counting a known user's failure does not
show either. Failed passwords feed the lockout counter of a known user and the
per-source rate limit (``kumo.core.lockout``).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from starlette.requests import Request

from kumo.core import lockout, passwords
from kumo.model import identity as m

from ...errors import ApiError
from ...runtime import Runtime
from .views import find_by_name

UNAUTHORIZED = "The request you have made requires authentication."
Obj = dict[str, Any]


def fail() -> ApiError:
    return ApiError(401, UNAUTHORIZED)


async def _refused(rt: Runtime, started: float) -> ApiError:
    """401, answered ``login_failure_delay`` after the attempt began: the store write that
    counts a known user's failure (and any other path difference) does not show."""
    await asyncio.sleep(max(0.0, started + rt.config.login_failure_delay - time.monotonic()))
    return fail()


def policy(rt: Runtime) -> lockout.LockoutPolicy:
    return lockout.LockoutPolicy(rt.config.lockout_failure_attempts, rt.config.lockout_duration)


def limiter(rt: Runtime) -> lockout.FailureWindow:
    """This process's failed-login window (one per runtime)."""
    lim = rt.caches.get("login-failures")
    if lim is None:
        c = rt.config
        lim = rt.caches["login-failures"] = lockout.FailureWindow(
            c.login_failures_per_source, c.login_failures_per_user_source,
            c.login_failure_window)
    return lim


async def domain_ref(rt: Runtime, ref: Any) -> str | None:
    """The domain id a reference names; None when it names no domain (401 later)."""
    if not isinstance(ref, dict):
        raise ApiError(400, "Invalid input for field 'domain': an object is required.")
    if ref.get("id"):
        return str(ref["id"])
    if ref.get("name"):
        dom = await find_by_name(rt, m.DOMAIN, str(ref["name"]))
        return None if dom is None else dom["metadata"]["name"]
    raise ApiError(400, "Invalid input for field 'domain': id or name is required.")


async def _find_user(rt: Runtime, u: Obj) -> Obj | None:
    if u.get("id"):
        return await rt.objects.try_get(m.USER, "", str(u["id"]))
    if u.get("name"):
        if "domain" not in u:
            raise ApiError(400, "Invalid input for field 'user.domain': required with a name.")
        did = await domain_ref(rt, u["domain"])
        return None if did is None else await find_by_name(rt, m.USER, str(u["name"]), did)
    raise ApiError(400, "Invalid input for field 'identity.password.user': id or name.")


def _source(request: Request) -> str:
    return request.client.host if request.client else ""


async def password_user(request: Request, rt: Runtime, pw: Any) -> Obj:
    """The user a password login proves, or 401 (429 once a source guesses too often)."""
    if not isinstance(pw, dict) or not isinstance(pw.get("user"), dict):
        raise ApiError(400, "Invalid input for field 'identity.password.user'.")
    u = pw["user"]
    secret = u.get("password")
    if not isinstance(secret, str):
        raise ApiError(400, "Invalid input for field 'identity.password.user.password'.")
    started = time.monotonic()
    source, ref = _source(request), str(u.get("id") or u.get("name") or "")
    wait = limiter(rt).allowed(source, ref)
    if wait > 0:
        raise ApiError(429, "Too many failed login attempts; try again later.",
                       headers={"Retry-After": str(max(1, math.ceil(wait)))})
    user = await _find_user(rt, u)
    hashed = user["spec"].get("passwordHash") if user is not None else None
    ok = await passwords.verify_async(hashed, secret)
    locked = user is not None and await lockout.is_locked(rt.objects, user, policy(rt))
    if user is None or not ok or locked:
        limiter(rt).failed(source, ref)
        if user is not None and not locked:
            await lockout.record_failure(rt.objects, user, policy(rt))
        raise await _refused(rt, started)
    if not user["spec"].get("enabled", True):
        raise await _refused(rt, started)
    await lockout.clear(rt.objects, user)
    return user


async def _find_cred(rt: Runtime, ac: Obj) -> Obj | None:
    if ac.get("id"):
        return await rt.objects.try_get(m.APP_CREDENTIAL, "", str(ac["id"]))
    if not (ac.get("name") and isinstance(ac.get("user"), dict)):
        return None
    u = ac["user"]
    if u.get("id"):
        user = await rt.objects.try_get(m.USER, "", str(u["id"]))
    else:
        did = await domain_ref(rt, u.get("domain") or {})
        user = None if did is None else await find_by_name(rt, m.USER, str(u.get("name")), did)
    if user is None:
        return None
    for c in (await rt.objects.list(m.APP_CREDENTIAL, "", label_selector=(
            f"user={user['metadata']['name']}"))).items:
        if c["spec"]["name"] == ac["name"]:
            return c
    return None


def cred_expired(cred: Obj, now: float | None = None) -> bool:
    exp = cred["spec"].get("expiresAt")
    return exp is not None and float(exp) <= (time.time() if now is None else now)


async def app_cred(rt: Runtime, ac: Any) -> tuple[Obj, Obj]:
    """The (user, credential) an application-credential login proves, or 401."""
    if not isinstance(ac, dict) or not isinstance(ac.get("secret"), str):
        raise ApiError(400, "Invalid input for field 'application_credential'.")
    started = time.monotonic()
    cred = await _find_cred(rt, ac)
    hashed = cred["spec"].get("secretHash") if cred is not None else None
    if not await passwords.verify_async(hashed, ac["secret"]) or cred is None:
        raise await _refused(rt, started)
    user = await rt.objects.try_get(m.USER, "", cred["spec"]["userId"])
    if cred_expired(cred) or user is None or not user["spec"].get("enabled", True):
        raise await _refused(rt, started)
    return user, cred
