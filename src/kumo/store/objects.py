"""Object semantics over a Backend, after the Kubernetes API machinery.

Stamps ``metadata`` (uid, creationTimestamp, generation, resourceVersion),
enforces compare-and-swap on resourceVersion, implements finalizers (delete
sets deletionTimestamp; the object goes when its finalizers are empty), label
selectors and limit/continue pagination. resourceVersion is never stored: it
is the record's mod revision, injected on read, as etcd-backed Kubernetes does.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import inspect
import json
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from kumo.common.clock import now_iso

from .backend import MAX_PAGE, Backend, Event, Key, Record
from .errors import Conflict, Invalid, NotFound
from .selectors import parse_selector

Obj = dict[str, Any]
CAS_ATTEMPTS = 20
UNCHANGED: Any = object()  # a mutate change function returns it to skip the write
Change = Callable[[Obj], Any]
_BAD_TEXT = re.compile("[\ud800-\udfff\x00]")


def check_text(obj: Any) -> None:
    """Refuse (``Invalid``) a value holding a lone UTF-16 surrogate or NUL in any key or
    string: stored, it would break every later read that encodes it (lists, watches)."""
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _BAD_TEXT.search(node):
                raise Invalid("strings may not contain NUL or lone UTF-16 surrogates")
        elif isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and _BAD_TEXT.search(key):
                    raise Invalid("keys may not contain NUL or lone UTF-16 surrogates")
                stack.append(value)
        elif isinstance(node, list | tuple):
            stack.extend(node)


def key_of(obj: Obj) -> Key:
    md = obj.get("metadata") or {}
    if not obj.get("kind") or not md.get("name"):
        raise Invalid("object needs kind and metadata.name")
    key = Key(obj["kind"], md.get("namespace") or "", md["name"])
    if not all(isinstance(part, str) for part in (key.kind, key.namespace, key.name)):
        raise Invalid("kind, metadata.namespace and metadata.name must be strings")
    return key


def _to_obj(rec: Record) -> Obj:
    obj = rec.value
    obj.setdefault("metadata", {})["resourceVersion"] = str(rec.mod_revision)
    return obj


def _strip(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out.setdefault("metadata", {}).pop("resourceVersion", None)
    return out


def encode_continue(namespace: str, name: str) -> str:
    raw = json.dumps([namespace, name]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        ns, name = json.loads(raw)
        return str(ns), str(name)
    except (ValueError, TypeError) as exc:
        raise Invalid(f"invalid continue token {token!r}") from exc


@dataclass
class ObjectList:
    items: list[Obj]
    resource_version: int
    continue_token: str | None = None


@dataclass
class WatchEvent:
    type: str
    object: Obj | None
    revision: int
    source: Event | None = None  # the hub's event, for a ``shared`` watch

    def encoded(self, encode: Callable[[str, Obj | None], bytes]) -> bytes:
        """``encode(type, object)``, computed once per event for all shared streams."""
        if self.source is None:
            return encode(self.type, self.object)
        if self.source.wire is None:
            self.source.wire = encode(self.type, self.object)
        return self.source.wire

class ObjectStore:
    """The store every other layer uses. Errors: see ``errors.py``."""

    def __init__(
        self, backend: Backend, observer: Callable[[str, float, str], None] | None = None
    ) -> None:
        self.backend = backend
        self.observer = observer

    def _observe(self, op: str, start: float, result: str) -> None:
        if self.observer is not None:
            self.observer(op, time.perf_counter() - start, result)

    async def _create(self, obj: Obj) -> Obj:
        key = key_of(obj)
        check_text(obj)
        new = _strip(obj)
        md = new["metadata"]
        md["namespace"] = key.namespace
        md.setdefault("uid", str(uuid.uuid4()))
        md["creationTimestamp"] = now_iso()
        md["generation"] = 1
        md.pop("deletionTimestamp", None)
        return _to_obj(await self.backend.create(key, new))

    async def _get(self, kind: str, namespace: str, name: str) -> Obj:
        rec = await self.backend.get(Key(kind, namespace or "", name))
        if rec is None:
            raise NotFound(f"{kind} {name!r} not found")
        return _to_obj(rec)

    async def try_get(self, kind: str, namespace: str, name: str) -> Obj | None:
        rec = await self.backend.get(Key(kind, namespace or "", name))
        return _to_obj(rec) if rec else None

    async def _list(
        self, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
        limit: int = 0, continue_token: str | None = None,
    ) -> ObjectList:
        """Objects in key order; ``limit`` 0 means all, read in bounded backend pages.

        A negative or oversized ``limit`` is clamped to ``MAX_PAGE`` (the caller gets a
        continue token), and every page must move the cursor forward, so no list spins.
        A full list yields to the loop between pages; its revision is the first page's,
        so a watch from it replays whatever changed while later pages were read.
        """
        match = parse_selector(label_selector)
        start = decode_continue(continue_token) if continue_token else None
        if limit < 0 or limit > MAX_PAGE:
            limit = MAX_PAGE
        items: list[Obj] = []
        revision = 0
        while True:
            page = await self.backend.list(kind, namespace, start_after=start, limit=MAX_PAGE)
            revision = revision or page.revision
            for rec in page.records:
                start = (rec.key.namespace, rec.key.name)
                if match(rec.value.get("metadata", {}).get("labels") or {}):
                    items.append(_to_obj(rec))
                    if limit and len(items) == limit:
                        last = page.more or rec is not page.records[-1]
                        token = encode_continue(*start) if last else None
                        return ObjectList(items, revision, token)
            if not page.more or not page.records:
                return ObjectList(items, revision, None)
            await asyncio.sleep(0)

    async def _update(self, obj: Obj, *, expected_rv: int | None = None) -> Obj:
        """Replace an object if its resourceVersion is current (Conflict if not).

        uid and creationTimestamp are kept; generation is bumped when spec changes.
        An object being deleted whose last finalizer is removed is deleted now.
        """
        key = key_of(obj)
        check_text(obj)
        rv = expected_rv if expected_rv is not None else _rv(obj)
        rec = await self.backend.get(key)
        if rec is None:
            raise NotFound(f"{key.kind} {key.name!r} not found")
        if rv != rec.mod_revision:
            raise Conflict(f"{key.kind} {key.name!r}: resourceVersion {rv} is stale "
                           f"(current {rec.mod_revision}); re-read and retry")
        old_md = rec.value.get("metadata", {})
        new = _strip(obj)
        md = new["metadata"]
        md["namespace"] = key.namespace
        for f in ("uid", "creationTimestamp"):
            if f in old_md:
                md[f] = old_md[f]
        md.pop("deletionTimestamp", None)  # set only by delete, as in Kubernetes
        if old_md.get("deletionTimestamp"):
            md["deletionTimestamp"] = old_md["deletionTimestamp"]
        md["generation"] = old_md.get("generation", 1)
        if new.get("spec") != rec.value.get("spec"):
            md["generation"] += 1
        if md.get("deletionTimestamp") and not md.get("finalizers"):
            return _to_obj(await self.backend.delete(key, rv))
        return _to_obj(await self.backend.update(key, new, rv))

    async def _delete(
        self, kind: str, namespace: str, name: str, *, expected_rv: int | None = None
    ) -> Obj:
        """Delete now, or mark deletionTimestamp while finalizers remain.

        Without ``expected_rv`` a concurrent write is not a conflict for the
        caller: the delete is re-evaluated on the fresh object.
        """
        key = Key(kind, namespace or "", name)
        while True:
            rec = await self.backend.get(key)
            if rec is None:
                raise NotFound(f"{kind} {name!r} not found")
            if expected_rv is not None and expected_rv != rec.mod_revision:
                raise Conflict(f"{kind} {name!r}: resourceVersion {expected_rv} is stale")
            md = rec.value.get("metadata", {})
            try:
                if md.get("finalizers"):
                    if md.get("deletionTimestamp"):
                        return _to_obj(rec)
                    new = copy.deepcopy(rec.value)
                    new["metadata"]["deletionTimestamp"] = now_iso()
                    return _to_obj(await self.backend.update(key, new, rec.mod_revision))
                return _to_obj(await self.backend.delete(key, rec.mod_revision))
            except Conflict:
                if expected_rv is not None:
                    raise

    async def create(self, obj: Obj) -> Obj:
        return await self._timed("create", self._create(obj))

    async def get(self, kind: str, namespace: str, name: str) -> Obj:
        return await self._timed("get", self._get(kind, namespace, name))

    async def list(
        self, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
        limit: int = 0, continue_token: str | None = None,
    ) -> ObjectList:
        return await self._timed("list", self._list(
            kind, namespace, label_selector=label_selector, limit=limit,
            continue_token=continue_token))

    async def count(self, kind: str, namespace: str | None = None) -> int:
        """How many objects of a kind exist (quota checks: no list, no decode)."""
        return await self._timed("count", self.backend.count(kind, namespace))

    async def update(self, obj: Obj, *, expected_rv: int | None = None) -> Obj:
        return await self._timed("update", self._update(obj, expected_rv=expected_rv))

    async def delete(
        self, kind: str, namespace: str, name: str, *, expected_rv: int | None = None
    ) -> Obj:
        return await self._timed("delete", self._delete(
            kind, namespace, name, expected_rv=expected_rv))

    async def mutate(self, kind: str, namespace: str, name: str, change: Change, *,
                     current: Obj | None = None, attempts: int = CAS_ATTEMPTS) -> Obj:
        """The one read-modify-write of kumo: optimistic, retried, never a lost update.

        ``change`` (plain or async) gets a private copy of the object and edits it in place (returns
        None), returns a replacement, or returns ``UNCHANGED`` to skip the write (then
        the object as read is returned). The write carries the read's resourceVersion;
        a Conflict re-reads and re-applies ``change`` after a short jittered pause.
        ``current`` saves the first read when the caller already has the object.
        NotFound propagates; so does Conflict once ``attempts`` races are lost, and any
        exception ``change`` raises (domain refusals abort the write).
        """
        obj = current if current is not None else await self.get(kind, namespace, name)
        for attempt in range(attempts):
            new = copy.deepcopy(obj)
            result = change(new)
            if inspect.isawaitable(result):
                result = await result
            if result is UNCHANGED:
                return obj
            if result is not None:
                new = result
            new.setdefault("metadata", {})["resourceVersion"] = obj["metadata"][
                "resourceVersion"]
            try:
                return await self.update(new)
            except Conflict:
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                obj = await self.get(kind, namespace, name)
        raise Conflict(f"{kind} {name!r} is being changed concurrently; gave up after "
                       f"{attempts} attempts")

    async def _timed(self, op: str, coro: Any) -> Any:
        start = time.perf_counter()
        try:
            result = await coro
        except Exception as exc:
            self._observe(op, start, type(exc).__name__)
            raise
        self._observe(op, start, "ok")
        return result

    async def watch(
        self, kind: str | None, namespace: str | None = None, from_revision: int = 0, *,
        label_selector: str | None = None, shared: bool = False,
    ) -> AsyncIterator[WatchEvent]:
        """Events of a kind; with ``label_selector`` only those of matching objects
        (filtered before the per-watcher copy: no fan-out cost for the others)."""
        match = None
        if label_selector:
            by_labels = parse_selector(label_selector)

            def match(value: Obj) -> bool:
                return by_labels((value.get("metadata") or {}).get("labels") or {})

        async for ev in self.backend.watch(kind, namespace, from_revision, match, shared=shared):
            yield _event(ev)

    async def revision(self) -> int:
        return await self.backend.revision()


def _rv(obj: Obj) -> int:
    raw = (obj.get("metadata") or {}).get("resourceVersion")
    try:
        return int(raw)
    except (TypeError, ValueError) as exc:
        raise Invalid("metadata.resourceVersion is required for update") from exc


def _event(ev: Event) -> WatchEvent:
    if ev.record is None:
        return WatchEvent(ev.type, None, ev.revision, ev)
    obj = ev.record.value  # (on a shared event every reader sets the same value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(ev.record.mod_revision)
    return WatchEvent(ev.type, obj, ev.revision, ev)
