"""The kinds the native API serves: name, plural, scope, and who may touch them."""

from __future__ import annotations

from dataclasses import dataclass

from . import identity

GROUP = "kumo.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"


@dataclass(frozen=True)
class KindInfo:
    kind: str
    plural: str
    namespaced: bool
    admin_only: bool = False  # identity and infrastructure kinds: admin (or service) only
    # members may write it through the native API in their own project (ConfigMap); other
    # namespaced kinds are written by members only through their OpenStack API (core rules)
    tenant_writable: bool = False
    short_names: tuple[str, ...] = ()

    @property
    def singular(self) -> str:
        return self.kind.lower()


_KINDS: dict[str, KindInfo] = {}


def register(info: KindInfo) -> KindInfo:
    _KINDS[info.kind] = info
    return info


def by_plural(plural: str) -> KindInfo | None:
    for info in _KINDS.values():
        if info.plural == plural:
            return info
    return None


def by_kind(kind: str) -> KindInfo | None:
    return _KINDS.get(kind)


def all_kinds() -> list[KindInfo]:
    return sorted(_KINDS.values(), key=lambda k: k.kind)


for _kind in identity.IDENTITY_KINDS:
    _plural = _kind.lower() + ("es" if _kind.endswith("s") else "s")
    register(KindInfo(_kind, _plural, namespaced=False, admin_only=True))

register(KindInfo("Event", "events", namespaced=True, short_names=("ev",)))
register(KindInfo("Host", "hosts", namespaced=False, admin_only=True))  # fields: see compute.py
register(KindInfo("ConfigMap", "configmaps", namespaced=True, short_names=("cm",),
                  tenant_writable=True))
