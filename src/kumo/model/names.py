"""NameClaim: a name reserved in a scope, so that two racing creates cannot both take it.

NameClaim (cluster-scoped, name = ``<kind>.<sha256(kind, scope, name)[:40]>``)
  spec {kind (of the owner), scope (a domain id, a user id, "" for global), name (as
        compared: exact), owner (the owner's object name), ownerNamespace, claimedAt
        (epoch seconds of the last claim or takeover)}
Written only by ``kumo.core.names``: creating the object *is* the reservation (the
store refuses a second create), so uniqueness does not depend on a lookup.
Typed model: ``kumo.model.objects.identity.NameClaim``.
"""

from __future__ import annotations

from .registry import KindInfo, register

NAME_CLAIM = "NameClaim"

register(KindInfo(NAME_CLAIM, "nameclaims", namespaced=False, admin_only=True))

