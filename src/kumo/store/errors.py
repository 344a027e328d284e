"""Store errors: the object-API error tree of ``kumo.common.errors``, re-exported.

Callers that expect a CAS race (controllers, IPAM) use ``ObjectStore.mutate`` or
catch Conflict; the API layer maps each to an HTTP status.
"""

from kumo.common.errors import AlreadyExists, Conflict, Gone, Invalid, NotFound, StoreError

__all__ = ["AlreadyExists", "Conflict", "Gone", "Invalid", "NotFound", "StoreError"]
