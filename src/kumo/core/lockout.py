"""Failed-login lockout as Keystone offers it, and a rate limit on password guesses.

Lockout (``[security_compliance] lockout_failure_attempts`` / ``lockout_duration`` in
Keystone): after ``failure_attempts`` failed passwords a user is locked for ``duration``
seconds, during which even the right password is refused. The counter is a
``LoginFailures`` object in the store, changed by compare-and-swap, so it survives a
restart and concurrent guesses are all counted. A success clears it; failures older than
``duration`` are forgotten. Users with the option ``ignoreLockoutFailureAttempts`` (the
agents' service user: locking it out would stop every host) are never locked.

The rate limit (``FailureWindow``) is in memory: failed attempts per source address and
per (source, user name) in a sliding window; over the limit, further attempts are refused
without an argon2 verify, which also bounds the CPU a guesser can burn.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from kumo import store
from kumo.model.lockout import LOGIN_FAILURES

Obj = dict[str, Any]
IGNORE_OPTION = "ignoreLockoutFailureAttempts"


@dataclass(frozen=True)
class LockoutPolicy:
    failure_attempts: int = 5  # 0 turns lockout off
    duration: float = 300.0

    @property
    def enabled(self) -> bool:
        return self.failure_attempts > 0


def exempt(user: Obj) -> bool:
    return bool(((user.get("spec") or {}).get("options") or {}).get(IGNORE_OPTION))


def _live_count(spec: Obj, policy: LockoutPolicy, now: float) -> int:
    """Failures that still count: none once ``duration`` has passed since the last one."""
    if now - float(spec.get("lastFailureAt") or 0) >= policy.duration:
        return 0
    return int(spec.get("count") or 0)


async def is_locked(objects: store.ObjectStore, user: Obj, policy: LockoutPolicy,
                    now: float | None = None) -> bool:
    """Whether this user's logins are refused for now, whatever the password."""
    if not policy.enabled or exempt(user):
        return False
    rec = await objects.try_get(LOGIN_FAILURES, "", user["metadata"]["name"])
    if rec is None:
        return False
    now = time.time() if now is None else now
    return _live_count(rec["spec"], policy, now) >= policy.failure_attempts


async def record_failure(objects: store.ObjectStore, user: Obj, policy: LockoutPolicy,
                         now: float | None = None) -> int:
    """Count one failed login of ``user``; returns the live count."""
    if not policy.enabled or exempt(user):
        return 0
    uid = user["metadata"]["name"]
    at = time.time() if now is None else now

    def bump(obj: Obj) -> None:
        spec = obj["spec"]
        spec["count"] = _live_count(spec, policy, at) + 1
        spec["lastFailureAt"] = at

    try:
        saved = await objects.mutate(LOGIN_FAILURES, "", uid, bump)
    except store.NotFound:
        fresh = {"apiVersion": "kumo.io/v1", "kind": LOGIN_FAILURES,
                 "metadata": {"name": uid, "namespace": ""},
                 "spec": {"userId": uid, "count": 1, "lastFailureAt": at}}
        try:
            saved = await objects.create(fresh)
        except store.AlreadyExists:  # a concurrent first failure: count on top of it
            saved = await objects.mutate(LOGIN_FAILURES, "", uid, bump)
    return int(saved["spec"]["count"])


async def clear(objects: store.ObjectStore, user: Obj) -> None:
    """A successful login: forget the user's failures (no write when there are none)."""
    uid = user["metadata"]["name"]
    rec = await objects.try_get(LOGIN_FAILURES, "", uid)
    if rec is None:
        return
    try:
        await objects.delete(LOGIN_FAILURES, "", uid,
                             expected_rv=int(rec["metadata"]["resourceVersion"]))
    except (store.NotFound, store.Conflict):
        pass  # gone already, or a failure was counted meanwhile: that one stands


@dataclass
class FailureWindow:
    """Failed attempts per key in a sliding window of ``window`` seconds (in memory)."""

    per_source: int = 30
    per_user_source: int = 10
    window: float = 60.0
    max_keys: int = 100_000
    _seen: dict[tuple[str, ...], deque[float]] = field(default_factory=dict)

    def _keys(self, source: str, user_ref: str) -> list[tuple[tuple[str, ...], int]]:
        return [(("s", source), self.per_source), (("u", source, user_ref), self.per_user_source)]

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        q = self._seen.get(key)
        if q is None:
            return deque()
        while q and now - q[0] >= self.window:
            q.popleft()
        if not q:
            del self._seen[key]
        return q

    def allowed(self, source: str, user_ref: str, now: float | None = None) -> float:
        """0 if an attempt may go ahead, else the seconds until one may (Retry-After)."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for key, limit in self._keys(source, user_ref):
            q = self._recent(key, now)
            if limit > 0 and len(q) >= limit:
                wait = max(wait, q[len(q) - limit] + self.window - now)
        return wait

    def failed(self, source: str, user_ref: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if len(self._seen) >= self.max_keys:
            self._seen.clear()  # bounded memory; a flood of keys resets the window
        for key, _ in self._keys(source, user_ref):
            self._recent(key, now)
            self._seen.setdefault(key, deque()).append(now)
