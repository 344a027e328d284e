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

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "default_code" not in cls.__dict__:
            cls.default_code = cls.__name__  # the reason is the class's name unless it says

    def __init__(self, message: str, *, code: str | None = None, kind: str | None = None,
                 ident: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.kind = kind
        self.ident = ident


class NotFound(DomainError):
    """The object does not exist (or is not visible to the caller)."""


class Conflict(DomainError):
    """The request contradicts the current state."""


class AlreadyExists(Conflict):
    """A name, address or segment is taken."""


class InUse(Conflict):
    """The object is held by another (a port by a server)."""


class ConcurrentChange(Conflict):
    """Compare-and-swap lost too many times."""


class Exhausted(DomainError):
    """A pool ran dry (addresses, MACs, VNIs, host capacity)."""


class QuotaExceeded(DomainError):
    default_code = "OverQuota"

    def __init__(self, message: str, *, resource: str, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.resource = resource


class Invalid(DomainError):
    """The request is malformed for the domain."""


class Forbidden(DomainError):
    """The caller's role or scope does not allow it (``rule`` names the policy)."""

    def __init__(self, message: str, *, rule: str = "", code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.rule = rule
