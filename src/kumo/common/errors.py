"""The errors of kumo's object API, shared by the store and its HTTP client.

    StoreError
    ├── NotFound        the object does not exist
    ├── AlreadyExists   create of a name that exists
    ├── Conflict        compare-and-swap lost: the expected revision is stale
    ├── Gone            watch from a revision older than the retained history
    └── Invalid         the object is malformed (no name, wrong kind, ...)

The store raises them; the agents' HTTP client turns status codes back into them
at its boundary, so a reconciler handles a lost race the same way on either side
of the wire. Domain rules have their own tree in ``kumo.core.errors``.
"""


class StoreError(Exception):
    """Base of every object-API error."""


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
