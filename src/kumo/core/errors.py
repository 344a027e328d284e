"""The domain's refusals: what went wrong, in terms of the cloud, never of HTTP.

    DomainError                      .kind/.ident name the object, .code a stable reason
    ├── NotFound                     the object does not exist (or is not visible)
    ├── Conflict                     the request contradicts current state
    │   ├── AlreadyExists            a name, address or segment is taken
    │   ├── InUse                    the object is held by another (a port by a server)
    │   └── ConcurrentChange         compare-and-swap lost too many times
    ├── Exhausted                    a pool ran dry (addresses, MACs, VNIs)
    ├── QuotaExceeded                the project's limit for .resource would be passed
    ├── Invalid                      the request is malformed for the domain
    └── Forbidden                    the caller's role or scope does not allow it (.rule)

``code`` is the machine-readable reason (``IpAddressAlreadyAllocated``,
``MacAddressInUse``, ...); OpenStack faces use it to pick their own error type and
status; the native API renders a Kubernetes Status. Reconcilers catch the tree
directly: none of it carries a status code.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every domain refusal."""

    default_code = "DomainError"

    def __init__(self, message: str, *, code: str | None = None, kind: str | None = None,
                 ident: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.kind = kind
        self.ident = ident


class NotFound(DomainError):
    default_code = "NotFound"


class Conflict(DomainError):
    default_code = "Conflict"


class AlreadyExists(Conflict):
    default_code = "AlreadyExists"


class InUse(Conflict):
    default_code = "InUse"


class ConcurrentChange(Conflict):
    default_code = "ConcurrentChange"


class Exhausted(DomainError):
    default_code = "Exhausted"


class QuotaExceeded(DomainError):
    default_code = "OverQuota"

    def __init__(self, message: str, *, resource: str, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.resource = resource


class Invalid(DomainError):
    default_code = "Invalid"


class Forbidden(DomainError):
    default_code = "Forbidden"

    def __init__(self, message: str, *, rule: str = "", code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.rule = rule
