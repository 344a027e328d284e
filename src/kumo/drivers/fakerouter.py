"""In-memory router namespaces for control-plane tests and fake-driver agents: the
same interface as ``linuxnet_router.RouterNet``, state in dicts."""

from __future__ import annotations

from .linuxnet_router import RouterConfig, _check


class FakeRouterNet:
    def __init__(self) -> None:
        self.configs: dict[str, RouterConfig] = {}

    def namespaces(self) -> list[str]:
        return sorted(self.configs)

    def ensure(self, cfg: RouterConfig, verify: bool = True) -> int:
        _check(cfg)
        changed = self.configs.get(cfg.netns) != cfg
        self.configs[cfg.netns] = cfg
        return int(changed)

    def delete(self, netns: str) -> bool:
        return self.configs.pop(netns, None) is not None

    def conntrack_entries(self, netns: str) -> int:
        return 0

    def counters(self, netns: str) -> dict[str, int]:
        return {}
