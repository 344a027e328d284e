"""HTTP errors and each API's error body format.

Only the API layer knows status codes. Handlers raise ``ApiError``; the
sub-application of each service renders it in that service's format:
Kubernetes ``Status`` for the native API, ``{"error": {...}}`` for Keystone,
``{"badRequest": {...}}`` for Nova, ``{"NeutronError": {...}}`` for Neutron.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.core import errors as domain

TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict", 410: "Gone",
    413: "Request Entity Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity",
    429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}
K8S_REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType", 422: "Invalid", 500: "InternalError", 503: "ServiceUnavailable",
}
NOVA_NAMES = {
    400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
    405: "badMethod", 409: "conflictingRequest", 413: "overLimit", 415: "badMediaType",
    500: "computeFault", 503: "serviceUnavailable",
}


class ApiError(Exception):
    """An error answer: status code, human message, optional machine reason/type."""

    def __init__(self, status: int, message: str, *, reason: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.headers = headers or {}


def from_store_error(exc: store.StoreError) -> ApiError:
    """Convert a store error at the boundary."""
    if isinstance(exc, store.NotFound):
        return ApiError(404, str(exc), reason="NotFound")
    if isinstance(exc, store.AlreadyExists):
        return ApiError(409, f"already exists: {exc}", reason="AlreadyExists")
    if isinstance(exc, store.Conflict):
        return ApiError(409, str(exc), reason="Conflict")
    if isinstance(exc, store.Gone):
        return ApiError(410, str(exc), reason="Expired")
    if isinstance(exc, store.Invalid):
        return ApiError(422, str(exc), reason="Invalid")
    return ApiError(500, f"store error: {exc}", reason="InternalError")


DOMAIN_STATUS: tuple[tuple[type[domain.DomainError], int], ...] = (
    (domain.NotFound, 404), (domain.Conflict, 409), (domain.Exhausted, 409),
    (domain.QuotaExceeded, 403), (domain.Invalid, 422), (domain.Forbidden, 403),
)


def from_domain_error(exc: domain.DomainError) -> ApiError:
    """A domain refusal with the status its class implies; faces with their own mapping
    (Neutron's types, Nova's messages) convert before this default applies."""
    status = next((code for cls, code in DOMAIN_STATUS if isinstance(exc, cls)), 500)
    return ApiError(status, exc.message, reason=exc.code)


def k8s_status(err: ApiError) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": err.message, "reason": err.reason or K8S_REASONS.get(err.status, "Unknown"),
            "code": err.status}


def keystone_body(err: ApiError) -> dict[str, Any]:
    return {"error": {"code": err.status, "title": TITLES.get(err.status, "Error"),
                      "message": err.message}}


def nova_body(err: ApiError) -> dict[str, Any]:
    return {NOVA_NAMES.get(err.status, "computeFault"): {"message": err.message,
                                                          "code": err.status}}


def neutron_body(err: ApiError) -> dict[str, Any]:
    return {"NeutronError": {"type": err.reason or TITLES.get(err.status, "Error").replace(" ", ""),
                             "message": err.message, "detail": ""}}


Formatter = Callable[[ApiError], dict[str, Any]]


def handlers(fmt: Formatter, *, invalid_status: int = 400,
             from_domain: Callable[[domain.DomainError], ApiError] = from_domain_error,
             ) -> dict[Any, Callable[[Request, Exception], Response]]:
    """Starlette exception handlers rendering every error in one format. A store ``Invalid``
    (a value the store refuses, e.g. a lone surrogate) is ``invalid_status``: 400 for the
    OpenStack faces, 422 (Kubernetes' Invalid) for the native API. ``from_domain`` is the
    face's mapping of core refusals (type, status, message)."""

    def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return JSONResponse(fmt(exc), status_code=exc.status, headers=exc.headers)

    def store_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, store.StoreError)
        err = from_store_error(exc)
        if isinstance(exc, store.Invalid):
            err.status = invalid_status
        return api_error(request, err)

    def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, domain.DomainError)
        return api_error(request, from_domain(exc))

    def http_exception(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        detail = getattr(exc, "detail", None) or TITLES.get(status, "Error")
        return api_error(request, ApiError(status, str(detail)))

    from starlette.exceptions import HTTPException

    return {ApiError: api_error, store.StoreError: store_error,
            domain.DomainError: domain_error, HTTPException: http_exception}
