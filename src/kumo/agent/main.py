"""One host's agent: registration, heartbeat, server reconciler, console upload.

Reaches the control plane only over HTTP (list + watch + status writes), so
the same agent runs inside ``kumo up`` and on a remote host.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kumo.client import ApiClient, ApiSource
from kumo.common.informer import Informer
from kumo.common.version import VERSION
from kumo.drivers.compute import ComputeDriver
from kumo.drivers.imagecache import ImageCache
from kumo.model import compute as cm

from .compute import ServerReconciler
from .console import ConsoleUploader
from .host import register_until_done, renew_forever
from .images import ImageFetcher
from .inventory import Inventory
from .loadbalancer import LoadBalancerAgent
from .network import NetworkAgent
from .network_router import RouterAgent

log = logging.getLogger("kumo.agent")
RESYNC_INTERVAL = 30.0


def make_driver(kind: str, state_dir: Path) -> ComputeDriver:
    """The compute driver by name; ``auto`` picks QEMU when it is installed."""
    if kind == "auto":
        kind = "qemu" if shutil.which("qemu-system-x86_64") else "fake"
    if kind == "qemu":
        from kumo.drivers.qemu import QemuDriver

        return QemuDriver(state_dir / "vms")
    if kind == "fake":
        from kumo.drivers.fake import FakeDriver

        return FakeDriver()
    raise ValueError(f"unknown driver {kind!r}")


def make_net_driver(compute: ComputeDriver, kind: str = "auto") -> Any:
    """The real Linux bridge/VXLAN driver beside QEMU; the in-memory one beside fakes."""
    if kind == "auto":
        kind = "fake" if type(compute).__name__ == "FakeDriver" else "linux"
    if kind not in ("fake", "linux"):
        raise ValueError(f"unknown network driver {kind!r}")
    if kind == "fake":
        from kumo.drivers.fakenet import FakeNet

        return FakeNet()
    from kumo.drivers.linuxnet import LinuxNet

    return LinuxNet()


def make_lb_driver(net: Any, state_dir: Path) -> Any:
    """HAProxy beside the real network driver; in memory beside the fake one."""
    if type(net).__name__ == "FakeNet":
        from kumo.drivers.haproxy_fake import FakeHaproxy

        return FakeHaproxy()
    from kumo.drivers.haproxy import Haproxy

    return Haproxy(state_dir / "lb")


def make_router_driver(net: Any, state_dir: Path) -> Any:
    """Router namespaces beside the real network driver; in memory beside the fake one.
    The real one records which namespaces it made under ``state_dir``: only those it
    ever removes (names are machine-wide)."""
    if type(net).__name__ == "FakeNet":
        from kumo.drivers.fakerouter import FakeRouterNet

        return FakeRouterNet()
    from kumo.drivers.linuxnet_router import RouterNet

    return RouterNet(state_dir)


@dataclass
class Agent:
    api: ApiClient
    driver: ComputeDriver
    host: str
    state_dir: Path
    vtep_ip: str | None = None
    servers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    net_driver: Any = None
    net_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.images = ImageFetcher(self.api, ImageCache(self.state_dir / "images"))
        net = self.net_driver or make_net_driver(self.driver)
        options = dict(self.net_options)
        if type(net).__name__ == "FakeNet":
            options.setdefault("dhcp", False)  # in-memory networking runs no dnsmasq
        self.network = NetworkAgent(self.api, self.host, self.state_dir, self.vtep_ip, net,
                                    **options)
        self.router = RouterAgent(self.api, self.host, self.network,
                                  make_router_driver(net, self.state_dir),
                                  resync_interval=self.network.resync_interval)
        self.lb = LoadBalancerAgent(self.api, self.host, self.network,
                                    make_lb_driver(net, self.state_dir))
        self.reconciler = ServerReconciler(self.api, self.driver, self.host, self.images,
                                           network=self.network)
        self.console = ConsoleUploader(self.api, self.driver, self.servers)
        self.ready = asyncio.Event()
        self.inventory = Inventory(self.api, self.host, self.driver, self.images.cache,
                                   lambda: {name for _, name in self.servers}, self.ready)

    def _track(self, typ: str, obj: dict[str, Any]) -> None:
        md = obj["metadata"]
        key = (md["namespace"], md["name"])
        if typ == "DELETED":
            self.servers.pop(key, None)
            self.console.forget(md["name"])
        else:
            self.servers[key] = obj
        self.reconciler.controller.enqueue(key)

    async def _watch_servers(self) -> None:
        selector = f"{cm.HOST_LABEL}={self.host}"
        await Informer(ApiSource(self.api, "servers", label_selector=selector),
                       on_event=self._track, on_sync=self._listed).run()

    async def _listed(self, items: list[dict[str, Any]]) -> None:
        if not self.ready.is_set():
            await self._adopt({(o["metadata"]["namespace"], o["metadata"]["name"]) for o in items})
            self.ready.set()

    async def _adopt(self, keep: set[tuple[str, str]]) -> None:
        """After a restart: running VMs of our servers stay; VMs of no server go."""
        names = {name for _, name in keep}
        cleanup = getattr(self.driver, "cleanup_orphans", None)
        if cleanup is not None:
            removed = await cleanup(names)
            if removed:
                log.info("removed orphan VMs: %s", removed)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(RESYNC_INTERVAL)
            for key in list(self.servers):
                self.reconciler.controller.enqueue(key)

    async def run(self) -> None:
        info = await self.driver.host_info()
        await register_until_done(self.api, self.host, info, vtep_ip=self.vtep_ip,
                                  version=VERSION)
        log.info("host %s registered (%s, %d vCPU, %d MB)", self.host, info.accelerator,
                 info.vcpus, info.memory_mb)
        await asyncio.gather(
            renew_forever(self.api, self.host, f"{self.host}/{os.getpid()}"),
            self._watch_servers(), self.reconciler.controller.run(), self.console.run(),
            self._resync(), self.network.run(), self.inventory.run(), self.router.run(),
            self.lb.run())

    def debug_state(self) -> dict[str, Any]:
        return {"host": self.host, "servers": len(self.servers),
                "reconciler": self.reconciler.debug_state(), "console_uploads":
                self.console.uploads, "network": self.network.debug_state(),
                "router": self.router.debug_state(), "loadbalancer": self.lb.debug_state()}


async def run_agent(credentials: dict[str, Any], host: str, state_dir: Path, *,
                    driver: str = "auto", vtep_ip: str | None = None,
                    debug_providers: dict[str, Any] | None = None,
                    net_options: dict[str, Any] | None = None,
                    net_driver: str = "auto", listen: str | None = None) -> None:
    api = ApiClient(credentials)
    state_dir.mkdir(parents=True, exist_ok=True)
    compute = make_driver(driver, state_dir)
    net = make_net_driver(compute, net_driver)
    agent = Agent(api, compute, host, state_dir, vtep_ip, net_driver=net,
                  net_options=dict(net_options or {}))
    if debug_providers is not None:
        debug_providers[f"agent/{host}"] = agent.debug_state
    try:
        if listen:
            from .endpoint import serve

            await asyncio.gather(agent.run(), serve(listen, agent.debug_state))
        else:
            await agent.run()
    finally:
        await agent.driver.close()
        await api.close()
