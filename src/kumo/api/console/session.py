"""Who the browser is: a Keystone token in an HttpOnly, SameSite=Strict cookie.

CSRF: every form carries a token the page derived from the session token (a keyed hash:
another site can neither read the cookie nor compute it); the login form, before a
session exists, uses a double-submit cookie. ``X-Auth-Token`` works too (no cookie, so
no CSRF exposure) — that is how the authorization matrix reaches these pages.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from ..auth import AuthContext, AuthError, token_from
from ..runtime import runtime

SESSION = "kumo_session"
PRELOGIN = "kumo_csrf"
PATH = "/console"


class NoSession(Exception):
    """No valid token: the page redirects to the login form."""


class CsrfRefused(Exception):
    """A form post without the page's CSRF token: refused (403), nothing changed."""


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION) or token_from(request)


async def context(request: Request) -> AuthContext:
    """The token's identity (the API's own validation), or ``NoSession``."""
    tok = session_token(request)
    if not tok:
        raise NoSession
    try:
        ctx = await runtime(request).tokens.validate(tok)
    except AuthError:
        raise NoSession from None
    request.scope["kumo.console.ctx"] = ctx
    return ctx


def csrf_for(token: str) -> str:
    return hmac.new(b"kumo-console-csrf", token.encode(), hashlib.sha256).hexdigest()[:40]


def masked(secret: str) -> str:
    """``secret`` under a fresh one-time pad, so the (compressed) pages that carry it differ
    every time (no BREACH-style guessing of it byte by byte)."""
    raw = secret.encode()
    pad = secrets.token_bytes(len(raw))
    return (pad + bytes(a ^ b for a, b in zip(pad, raw, strict=True))).hex()


def unmasked(value: str) -> str:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return ""
    half = len(raw) // 2
    try:
        return bytes(a ^ b for a, b in zip(raw[:half], raw[half:], strict=True)).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def check_csrf(request: Request, form_value: str | None) -> None:
    """The form's token must match the session's (or, to log in, the pre-login cookie)."""
    tok = request.cookies.get(SESSION)
    expected = csrf_for(tok) if tok else request.cookies.get(PRELOGIN)
    got = unmasked(form_value or "")
    if not expected or not got or not hmac.compare_digest(expected, got):
        raise CsrfRefused


def prelogin_token(request: Request) -> str:
    return request.cookies.get(PRELOGIN) or secrets.token_urlsafe(24)


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    """HttpOnly, SameSite=Strict, on the console's path; Secure when served over TLS."""
    response.set_cookie(name, value, path=PATH, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def clear(response: Response) -> None:
    response.delete_cookie(SESSION, path=PATH, httponly=True, samesite="strict")
