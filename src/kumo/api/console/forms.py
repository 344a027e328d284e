"""Reading a posted form: url-encoded only (anything else carries no CSRF token), through the API's bounded body reader (the
size cap applies to forms too), each field cut at ``FIELD_MAX`` characters."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from ..common import read_body
from .apicall import ApiFailed
from .session import CsrfRefused, check_csrf

FIELD_MAX = 70000  # above every field's own limit, so the API still sees "too long"


async def read_form(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":  # no form, so no CSRF token either
        raise CsrfRefused
    raw = await read_body(request)
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=64,
                          errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiFailed(400, f"The form cannot be read: {exc}") from None
    return {k: v[:FIELD_MAX] for k, v in pairs}


async def posted(request: Request) -> dict[str, str]:
    """A form post's fields once its CSRF token checks out (before anything else runs:
    a forged post is refused the same way with or without a session)."""
    form = await read_form(request)
    check_csrf(request, form.get("csrf"))
    return form
