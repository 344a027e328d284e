"""Password and secret hashing: argon2, off the event loop, the same cost for unknown users.

An argon2 verify costs ~20 ms of CPU. Run on the event loop, 20 concurrent logins stall
every other request (``/healthz`` included) for 0.4 s; so the async helpers run it on a
small bounded thread pool (argon2-cffi releases the GIL). A login naming a user that
does not exist verifies against ``DUMMY_HASH``, so its answer takes as long as a wrong
password for a real user: timing does not tell existing user names from unknown ones.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# At most this many hashes at once: each holds ~19 MiB and a core; the rest queue.
POOL_SIZE = max(1, min(4, os.cpu_count() or 1))
_POOL = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="argon2")
DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(24))


def hash_secret(secret: str) -> str:
    return HASHER.hash(secret)


def verify_secret(hashed: str | None, secret: str) -> bool:
    """Whether ``secret`` matches ``hashed``; a missing or broken hash costs a full verify."""
    try:
        return HASHER.verify(hashed or DUMMY_HASH, secret) and bool(hashed)
    except InvalidHashError:
        _burn(secret)
        return False
    except VerificationError:
        return False


def _burn(secret: str) -> None:
    try:
        HASHER.verify(DUMMY_HASH, secret)
    except VerificationError:
        pass


async def hash_async(secret: str) -> str:
    """``hash_secret`` on the argon2 pool, leaving the event loop free."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, hash_secret, secret)


async def verify_async(hashed: str | None, secret: str) -> bool:
    """``verify_secret`` on the argon2 pool; ``None`` (no such user) verifies the dummy."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, verify_secret, hashed,
                                                            secret)
