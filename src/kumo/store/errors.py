"""Store errors.

    StoreError
    ├── NotFound        the key does not exist
    ├── AlreadyExists   create of a key that exists
    ├── Conflict        compare-and-swap lost: the expected revision is stale
    ├── Gone            watch from a revision older than the retained history
    └── Invalid         the object is malformed (no name, wrong kind, ...)

Callers that expect a CAS race (controllers, IPAM) catch Conflict and retry;
the API layer maps each to an HTTP status.
"""


class StoreError(Exception):
    """Base of every store error."""


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class Conflict(StoreError):
    pass


class Gone(StoreError):
    pass


class Invalid(StoreError):
    pass
