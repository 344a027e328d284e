"""The DHCP host's services for a network: dnsmasq and the metadata proxy.

Both are detached processes that outlive the agent; this keeps one handle per
network (`Dnsmasq`, `ProxyProcess`), converges them on every sync, adopts them
after a restart (each checks its pidfile against /proc), exports their metrics
and stops both when the network leaves this host. State lives under
``<state dir>/dhcp/<network id>/``; a directory there is what says "ours".
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from kumo.client import ApiClient
from kumo.drivers import dnsmasq
from kumo.model import network as nm
from kumo.observe import metrics

from .metadata_process import ProxyProcess
from .network_desired import DhcpPlan

log = logging.getLogger("kumo.agent.network")
_GAUGES = (metrics.DHCP_UP, metrics.DHCP_LEASES, metrics.DHCP_ACKS, metrics.DHCP_NAKS)


class DhcpServices:
    def __init__(self, api: ApiClient, host: str, state_dir: Path) -> None:
        self.api = api
        self.host = host
        self.root = state_dir / "dhcp"
        self.dnsmasq: dict[str, dnsmasq.Dnsmasq] = {}
        self.proxies: dict[str, ProxyProcess] = {}
        self._counted: dict[str, dict[str, int]] = {}
        self.restarts: dict[str, int] = {}  # dnsmasq found dead and restarted (AgentReport)

    def dir(self, network_id: str) -> Path:
        return self.root / network_id

    def present(self) -> list[str]:
        """Networks with state on this host (served now or left by an earlier run)."""
        return [p.name for p in self.root.iterdir()] if self.root.is_dir() else []

    async def ensure(self, plan: DhcpPlan) -> None:
        await self._ensure_dnsmasq(plan)
        await self._ensure_proxy(plan)

    async def _ensure_dnsmasq(self, plan: DhcpPlan) -> None:
        dm = self.dnsmasq.get(plan.network_id)
        if dm is None:
            self.dir(plan.network_id).mkdir(parents=True, exist_ok=True)
            dm = dnsmasq.Dnsmasq(plan.network_id, plan.netns, plan.ns_if, self.root)
            self.dnsmasq[plan.network_id] = dm
        subnets = [dnsmasq.DhcpSubnet(
            subnet_id=s["metadata"]["name"], cidr=s["spec"]["cidr"],
            gateway=s["spec"].get("gatewayIp"), dns=tuple(s["spec"].get("dnsNameservers") or ()),
            host_routes=tuple((r["destination"], r["nexthop"])
                              for r in s["spec"].get("hostRoutes") or []),
            mtu=plan.mtu) for s in plan.subnets]
        hosts = [dnsmasq.DhcpHost(mac, ip, name) for mac, ip, name in plan.hosts]
        dead = dm.pid() is None and dm.pidfile.exists()  # not a new command line's restart
        result = await dm.ensure(subnets, hosts, plan.server_ip)
        if result == "restarted" and dead:
            metrics.DHCP_RESTARTS.labels(plan.network_id, self.host).inc()
            self.restarts[plan.network_id] = self.restarts.get(plan.network_id, 0) + 1
            log.warning("dnsmasq for network %s was dead: restarted", plan.network_id)
        stats = dm.stats()
        metrics.DHCP_UP.labels(plan.network_id, self.host).set(1 if stats.get("up") else 0)
        metrics.DHCP_LEASES.labels(plan.network_id, self.host).set(stats.get("leases", 0))
        metrics.DHCP_ACKS.labels(plan.network_id, self.host).set(stats.get("acks", 0))
        metrics.DHCP_NAKS.labels(plan.network_id, self.host).set(stats.get("naks", 0))

    async def _ensure_proxy(self, plan: DhcpPlan) -> None:
        proxy = self.proxies.get(plan.network_id)
        if proxy is None:
            proxy = ProxyProcess(self.api.creds, plan.network_id, plan.netns,
                                 self.dir(plan.network_id))
            self.proxies[plan.network_id] = proxy
        if await proxy.ensure() == "restarted":
            log.warning("metadata proxy for network %s was dead: restarted", plan.network_id)
        self._count_requests(plan.network_id, proxy.requests())

    def _count_requests(self, network_id: str, now: dict[str, int]) -> None:
        """The proxy keeps totals since it started; the counter gets what is new."""
        seen = self._counted.setdefault(network_id, {})
        for status, total in now.items():
            before = seen.get(status, 0)
            if total < before:
                before = 0  # the proxy was restarted: its totals began again
            if total > before:
                metrics.METADATA_REQUESTS.labels(self.host, status).inc(total - before)
        self._counted[network_id] = dict(now)

    async def teardown(self, network_id: str) -> None:
        """Stop the proxy and dnsmasq, delete the namespace and the state directory."""
        proxy = self.proxies.pop(network_id, None) or ProxyProcess(
            {}, network_id, nm.dhcp_netns(network_id), self.dir(network_id))
        await proxy.stop()
        self._counted.pop(network_id, None)
        dm = self.dnsmasq.pop(network_id, None)
        if dm is None:
            try:
                dm = dnsmasq.Dnsmasq(network_id, nm.dhcp_netns(network_id), "ns-unknown",
                                     self.root)
            except ValueError:
                dm = None  # not a network id: nothing of ours to stop
        if dm is not None:
            await dm.stop()

    def forget(self, network_id: str) -> None:
        shutil.rmtree(self.dir(network_id), ignore_errors=True)
        for g in _GAUGES:
            try:
                g.remove(network_id, self.host)
            except KeyError:
                pass

    def debug_state(self) -> dict[str, Any]:
        return {"dhcp": {nid: dm.stats() for nid, dm in self.dnsmasq.items()},
                "metadata_proxies": {nid: sum(p.requests().values())
                                     for nid, p in self.proxies.items()}}

