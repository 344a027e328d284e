"""Neutron's errors: ``ApiError`` with ``reason`` set to Neutron's exception type, rendered
as ``{"NeutronError": {"type", "message", "detail"}}``; domain refusals (``kumo.core``)
mapped to the type and status Neutron gives them."""

from __future__ import annotations

from typing import Any

from kumo.core import errors as domain
from kumo.model import network as nm

from ...errors import ApiError, from_domain_error, handlers, neutron_body

NOT_FOUND_TYPES = {nm.NETWORK: ("NetworkNotFound", "Network {} could not be found."),
                   nm.SUBNET: ("SubnetNotFound", "Subnet {} could not be found."),
                   nm.PORT: ("PortNotFound", "Port {} could not be found."),
                   nm.SECURITY_GROUP: ("SecurityGroupNotFound",
                                       "Security group {} does not exist"),
                   nm.SECURITY_GROUP_RULE: ("SecurityGroupRuleNotFound",
                                            "Security group rule {} does not exist"),
                   nm.ROUTER: ("RouterNotFound", "Router {} could not be found"),
                   nm.FLOATING_IP: ("FloatingIPNotFound", "Floating IP {} could not be found"),
                   nm.SUBNET_POOL: ("SubnetPoolNotFound", "Subnet pool {} could not be found."),
                   nm.RBAC_POLICY: ("RbacPolicyNotFound",
                                    "RBAC policy with id {} could not be found"),
                   nm.ADDRESS_SCOPE: ("AddressScopeNotFound",
                                      "Address scope {} could not be found")}
# domain codes whose Neutron status is not the one their class implies
_STATUS_BY_CODE = {"MacAddressGenerationFailure": 503}


def err(status: int, kind: str, message: str) -> ApiError:
    return ApiError(status, message, reason=kind)


def bad_request(message: str) -> ApiError:
    return err(400, "HTTPBadRequest", message)


def invalid(message: str) -> ApiError:
    return err(400, "InvalidInput", f"Invalid input for operation: {message}")


def not_found(kind: str, ident: str) -> ApiError:
    typ, msg = NOT_FOUND_TYPES[kind]
    return err(404, typ, msg.format(ident))


def policy(rule: str) -> ApiError:
    return err(403, "PolicyNotAuthorized", f"rule:{rule} is disallowed by policy")


def from_domain(exc: domain.DomainError) -> ApiError:
    """A core refusal as Neutron answers it (type, status and message)."""
    if isinstance(exc, domain.NotFound) and exc.kind in NOT_FOUND_TYPES and exc.ident:
        return not_found(exc.kind, exc.ident)
    if isinstance(exc, domain.NotFound) and exc.code != "NotFound":
        return err(404, exc.code, exc.message)
    if isinstance(exc, domain.Forbidden):
        return err(403, "PolicyNotAuthorized", exc.message)
    if isinstance(exc, domain.QuotaExceeded):
        return err(409, "OverQuota", exc.message)
    if isinstance(exc, domain.Invalid):
        if exc.code in ("Invalid", "InvalidInput"):
            return invalid(exc.message)
        return err(400, exc.code, exc.message)
    if isinstance(exc, domain.Conflict | domain.Exhausted):
        return err(_STATUS_BY_CODE.get(exc.code, 409), exc.code, exc.message)
    return from_domain_error(exc)


def neutron_handlers() -> dict[Any, Any]:
    """Starlette exception handlers: every error, domain ones included, as Neutron's."""
    return handlers(neutron_body, from_domain=from_domain)
