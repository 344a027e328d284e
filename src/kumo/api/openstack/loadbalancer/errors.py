"""Octavia's errors: ``{"faultcode", "faultstring", "debuginfo"}`` (wsme's format), with
domain refusals mapped to the status Octavia gives them."""

from __future__ import annotations

from typing import Any

from kumo.core import errors as domain

from ...errors import ApiError, handlers

_STATUS = ((domain.NotFound, 404), (domain.Conflict, 409), (domain.Exhausted, 409),
           (domain.QuotaExceeded, 403), (domain.Invalid, 400), (domain.Forbidden, 403))


def octavia_body(err: ApiError) -> dict[str, Any]:
    return {"faultcode": "Server" if err.status >= 500 else "Client",
            "faultstring": err.message, "debuginfo": None}


def bad(message: str) -> ApiError:
    return ApiError(400, message, reason="ValidationException")


def invalid(field: str, value: Any, why: str = "") -> ApiError:
    return bad(f"Invalid input for field/attribute {field}. Value: '{value}'. {why}".strip())


def from_domain(exc: domain.DomainError) -> ApiError:
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
    if isinstance(exc, domain.Forbidden):
        return ApiError(403, "Policy does not allow this request to be performed.",
                        reason="PolicyForbidden")
    if isinstance(exc, domain.QuotaExceeded):
        names = {"load_balancer": "Load Balancer"}
        what = names.get(getattr(exc, "resource", ""), getattr(exc, "resource", ""))
        return ApiError(403, f"Quota has been met for resources: {what}",
                        reason="QuotaException")
    return ApiError(status, exc.message, reason=exc.code)


def octavia_handlers() -> dict[Any, Any]:
    """Every error, domain ones included, as Octavia renders it."""
    return handlers(octavia_body, from_domain=from_domain)
