"""LoginFailures: a user's recent failed password logins (Keystone's lockout counters).

LoginFailures (cluster-scoped, name = the user's id)
  spec {userId, count (failures since the last success or since the window passed),
        lastFailureAt (epoch seconds)}
Written only by ``kumo.core.lockout`` (compare-and-swap through ``ObjectStore.mutate``), so
counts survive a restart and two API replicas count together. A kind of its own, not a
field of User: a failed login must not rewrite the User, whose every change drops the
token cache of the whole cloud. Typed model: ``kumo.model.objects.identity.LoginFailures``.
"""

from __future__ import annotations

from .registry import KindInfo, register

LOGIN_FAILURES = "LoginFailures"

register(KindInfo(LOGIN_FAILURES, "loginfailures", namespaced=False, admin_only=True))
