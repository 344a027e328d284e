"""What a controller is handed by the process that runs it: the store and a place to
show its state. The API server's runtime satisfies it; controllers know no API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from kumo import store


class ControlPlane(Protocol):
    objects: store.ObjectStore
    debug_providers: dict[str, Callable[[], Any]]
