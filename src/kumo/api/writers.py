"""Who wrote each object last, and who was refused: the talk's annotation story, made visible.

Every native write is compare-and-swap on ``resourceVersion``, so a controller that
writes a stale copy (Rancher's, which wiped flannel's annotations) gets 409 instead of
silently overwriting. That alone hides the fight: this module names the writers. Each
successful native write remembers its writer (``?fieldManager=`` as kubectl sends it,
else the User-Agent's product, plus the user id) per object in a bounded per-process
map; a refused stale write becomes a ``WriteConflict`` Warning Event on the object that
names both — the one refused and the last one that wrote — for ``kumo doctor``.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any

from starlette.requests import Request

from kumo import store
from kumo.model.events import event_object

from .runtime import runtime

log = logging.getLogger("kumo.api.writers")
Obj = dict[str, Any]
KEEP = 10_000  # objects remembered per API process
COMPONENT_MAX = 120
CONFLICT_LABEL = "kumo.io/event-reason"  # kumo doctor lists conflicts by it


def writer_of(request: Request) -> str:
    manager = request.query_params.get("fieldManager") or (
        request.headers.get("user-agent") or "unknown").split(" ")[0]
    actor = getattr(request.state, "actor", None)
    user = getattr(actor, "user_id", None) or "?"
    return f"{manager[:80]} (user {user})"[:COMPONENT_MAX]


def _book(request: Request) -> OrderedDict[tuple[str, str, str], tuple[int, str, float]]:
    return runtime(request).caches.setdefault("writers", OrderedDict())


def wrote(request: Request, obj: Obj) -> Obj:
    """Remember the writer of the revision just written; returns ``obj``."""
    md = obj.get("metadata") or {}
    book = _book(request)
    key = (str(obj.get("kind")), md.get("namespace") or "", md.get("name") or "")
    book[key] = (int(md.get("resourceVersion") or 0), writer_of(request), time.time())
    book.move_to_end(key)
    while len(book) > KEEP:
        book.popitem(last=False)
    return obj


def last_writer(request: Request, kind: str, ns: str, name: str, rv: int) -> str:
    known = _book(request).get((kind, ns, name))
    if known is None or known[0] != rv:
        return "unknown (not written through this API process's native door)"
    return known[1]


async def refused(request: Request, kind: str, ns: str, name: str, sent_rv: Any) -> None:
    """A stale write was refused (409): record a WriteConflict naming both writers."""
    objects = runtime(request).objects
    try:
        current = await objects.get(kind, ns, name)
    except store.NotFound:
        return
    rv = int(current["metadata"].get("resourceVersion") or 0)
    writer, last = writer_of(request), last_writer(request, kind, ns, name, rv)
    ev = event_object(current, writer, "WriteConflict",
                      f"stale write refused (409): {writer} sent resourceVersion {sent_rv}, "
                      f"the object is at {rv}, last written by {last}",
                      type_="Warning", extra={"writer": writer, "lastWriter": last,
                                              "sentResourceVersion": str(sent_rv),
                                              "currentResourceVersion": str(rv)})
    ev["metadata"]["labels"][CONFLICT_LABEL] = "WriteConflict"
    try:
        await objects.create(ev)
    except store.StoreError:
        log.warning("could not record a WriteConflict on %s/%s", kind, name)
