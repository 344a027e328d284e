"""Who may write identity objects: Keystone's face only (and kumo itself).

Identity objects carry rules that only the Keystone face applies: unique names held by
``NameClaim`` objects (``kumo.core.names``), argon2 hashes instead of secrets, role
assignments removed with their user or project, tokens revoked when a user, project or
domain is disabled, lockout counters. A native-API write of one of these kinds would
bypass every one of them (a second user named ``admin``, a claim deleted under its
owner, a hash that is not one), so the native door serves them read-only: admins read
and watch them there and write them through ``/v3``.
"""

from __future__ import annotations

from kumo.model import identity as idm
from kumo.model.lockout import LOGIN_FAILURES
from kumo.model.names import NAME_CLAIM

from .actor import Actor
from .errors import Forbidden

KEYSTONE_ONLY = frozenset((*idm.IDENTITY_KINDS, NAME_CLAIM, LOGIN_FAILURES))


def admit_native_write(actor: Actor, kind: str, plural: str) -> None:
    """Forbidden for an identity kind unless kumo itself writes it."""
    if kind in KEYSTONE_ONLY and not actor.system:
        raise Forbidden(f"{plural} are written through the Identity API (/v3), which keeps "
                        "Keystone's rules; the native API serves them read-only",
                        rule=f"native:{plural}:write")
