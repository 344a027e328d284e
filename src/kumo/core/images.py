"""Image uploads that outlive their uploader: who streams, and when an upload is abandoned.

An image is ``saving`` only while one API process streams its data. That process records
itself and a heartbeat in the image's annotations and renews the heartbeat while bytes
arrive. If the process dies (``kill -9``, host crash), nothing would ever leave
``saving``: Glance allows no new upload and no download. So an upload whose heartbeat is
older than ``ABANDONED_AFTER`` is abandoned, and ``reset`` puts the image back to
``queued`` (its partial data discarded) so the user can simply upload again.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from typing import Any

from kumo.common.clock import epoch, now_iso

Obj = dict[str, Any]
UPLOADER = "kumo.io/uploader"
HEARTBEAT = "kumo.io/upload-heartbeat"
HEARTBEAT_SECONDS = 2.0
ABANDONED_AFTER = 10.0  # several missed heartbeats, far above a store write's latency

# This process, as an uploader: host, pid and a nonce (a pid is reused after a restart).
PROCESS_UPLOADER = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


def _state(obj: Obj) -> str:
    return (obj.get("status") or {}).get("state", "queued")


def begin_upload(obj: Obj, uploader: str = PROCESS_UPLOADER, now: float | None = None) -> None:
    """Mark ``obj`` (already ``saving``) as streamed by ``uploader`` as of ``now``."""
    ann = obj["metadata"].setdefault("annotations", {})
    ann[UPLOADER] = uploader
    ann[HEARTBEAT] = f"{time.time() if now is None else now:.3f}"


def uploader_of(obj: Obj) -> str | None:
    return (obj["metadata"].get("annotations") or {}).get(UPLOADER)


def heartbeat(obj: Obj) -> float:
    """The last sign of life of the upload (its start, for uploads from before heartbeats)."""
    raw = (obj["metadata"].get("annotations") or {}).get(HEARTBEAT)
    try:
        return float(raw) if raw else epoch((obj.get("status") or {}).get("uploadStartedAt"))
    except ValueError:
        return 0.0


def abandoned(obj: Obj, now: float | None = None, after: float = ABANDONED_AFTER) -> bool:
    """Is this image stuck in ``saving`` by an uploader that stopped beating?"""
    if _state(obj) != "saving":
        return False
    return (time.time() if now is None else now) - heartbeat(obj) > after


def abandoned_in(obj: Obj, now: float | None = None, after: float = ABANDONED_AFTER) -> float:
    """Seconds until a still-beating upload would count as abandoned (0 if it is)."""
    return max(0.0, heartbeat(obj) + after - (time.time() if now is None else now))


def end_upload(obj: Obj) -> None:
    """Drop the uploader's marks (the upload committed, failed, or was reset)."""
    ann = obj["metadata"].get("annotations") or {}
    ann.pop(UPLOADER, None)
    ann.pop(HEARTBEAT, None)


def reset(obj: Obj) -> None:
    """Back to ``queued`` with no data: Glance lets the owner upload again."""
    end_upload(obj)
    obj["status"] = {"state": "queued", "updatedAt": now_iso()}
