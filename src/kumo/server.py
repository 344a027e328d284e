"""Assemble and run an API process: store, runtime, background loops, HTTP.

``open_runtime`` wires the pieces (also used by in-process tests);
``serve`` runs uvicorn plus the control-plane loops until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvicorn
import yaml
from starlette.types import ASGIApp

from kumo import store
from kumo.api import limits
from kumo.api.auth import TokenManager, load_or_create_key
from kumo.api.runtime import CatalogService, Runtime
from kumo.common.informer import Informer
from kumo.config import Config
from kumo.model import identity as idm
from kumo.observe import metrics

log = logging.getLogger("kumo.server")

ADMIN_PASSWORD_FILE = "admin-password"
SERVICE_CREDENTIALS_FILE = "service-credentials.yaml"


def _observe_store(op: str, seconds: float, result: str) -> None:
    metrics.STORE_OP_LATENCY.labels(op).observe(seconds)
    metrics.STORE_OPS.labels(op, result).inc()


def write_private(path: Path, text: str) -> None:
    """Write a secret file 0600, atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


async def open_runtime(config: Config) -> Runtime:
    """Open the store, load the token key, register the catalog, bootstrap identity."""
    from kumo.api.openstack.identity import bootstrap as identity_bootstrap

    make_private(config.data_dir, config.store_path)
    objects = await store.open_sqlite(
        str(config.store_path), min_history_revisions=config.history_min_revisions,
        min_history_seconds=config.history_min_seconds)
    objects.observer = _observe_store
    tokens = TokenManager(objects, load_or_create_key(config.data_dir), config.token_ttl_seconds)
    rt = Runtime(config=config, objects=objects, tokens=tokens)
    from kumo.doctor import Doctor

    rt.doctor = Doctor(objects)
    rt.catalog.extend([
        CatalogService("c0b3a1f0e5d94c6b9d1e2f3a4b5c6d70", "identity", "keystone", "/v3",
                       "Identity (Keystone v3)"),
        CatalogService("c0b3a1f0e5d94c6b9d1e2f3a4b5c6d71", "compute", "nova", "/compute/v2.1",
                       "Compute (Nova v2.1)"),
        CatalogService("c0b3a1f0e5d94c6b9d1e2f3a4b5c6d72", "image", "glance", "/image",
                       "Image (Glance v2)"),
        CatalogService("c0b3a1f0e5d94c6b9d1e2f3a4b5c6d73", "network", "neutron", "/network",
                       "Networking (Neutron v2.0)"),
        CatalogService("c0b3a1f0e5d94c6b9d1e2f3a4b5c6d74", "dns", "designate", "/dns",
                       "DNS (Designate v2)"),
        CatalogService("c0b3a1f0e5d94c6b9d1e2f3a4b5c6d7b", "load-balancer", "octavia",
                       "/load-balancer", "Load balancing (Octavia v2)"),
    ])
    creds = await identity_bootstrap.bootstrap(rt)
    from kumo.api.openstack.compute import bootstrap as compute_bootstrap

    await compute_bootstrap.bootstrap(rt)
    if creds is not None:
        write_private(config.data_dir / ADMIN_PASSWORD_FILE, creds.admin_password + "\n")
        write_private(config.data_dir / SERVICE_CREDENTIALS_FILE, yaml.safe_dump({
            "auth_url": config.base_url + "/v3", "username": creds.service_user,
            "password": creds.service_password, "project_name": creds.service_project,
            "user_domain_id": "default", "project_domain_id": "default"}))
    write_clouds_yaml(config)
    make_private(config.data_dir)  # the store's -wal/-shm files, made by SQLite
    return rt


def make_private(data_dir: Path, *create: Path) -> None:
    """The data directory 0700 and its files 0600, whatever existed before.

    ``mkdir(mode=)`` does nothing to a directory that exists and SQLite creates its files
    with the umask's mode: a data directory made by hand (or an older kumo) left
    ``store.db``, which holds every password hash and token key, world-readable.
    ``create`` files are made empty with 0600 first, so they are never readable by others.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(data_dir, 0o700)
    for path in create:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for entry in os.scandir(data_dir):
        if entry.is_file(follow_symlinks=False) and entry.stat().st_mode & 0o077:
            os.chmod(entry.path, 0o600)


def admin_password(config: Config) -> str:
    return (config.data_dir / ADMIN_PASSWORD_FILE).read_text().strip()


def write_clouds_yaml(config: Config) -> Path:
    """clouds.yaml with a cloud named ``kumo`` (admin), rewritten on every start."""
    path = config.data_dir / "clouds.yaml"
    doc = {"clouds": {"kumo": {
        "auth": {"auth_url": config.base_url + "/v3", "username": "admin",
                 "password": admin_password(config), "project_name": "admin",
                 "user_domain_id": "default", "project_domain_id": "default"},
        "region_name": config.region, "identity_api_version": 3, "interface": "public"}}}
    write_private(path, yaml.safe_dump(doc, sort_keys=False))
    return path


async def _compaction_loop(rt: Runtime) -> None:
    while True:
        await asyncio.sleep(rt.config.compaction_interval)
        try:
            await rt.objects.backend.compact()
            metrics.STORE_COMPACTIONS.inc()
        except store.StoreError:
            log.exception("compaction failed")


async def _identity_watch(rt: Runtime) -> None:
    """Invalidate cached token validations whenever an identity object changes."""

    def changed(_: str, __: object) -> None:
        rt.tokens.invalidate()

    await asyncio.gather(*(Informer(store.StoreSource(rt.objects, kind), on_event=changed).run()
                           for kind in idm.IDENTITY_KINDS))


BackgroundTask = Callable[[Runtime], Awaitable[None]]


def background_tasks() -> list[BackgroundTask]:
    from kumo.api.openstack.compute import usage as compute_usage
    from kumo.control import (
        allocations,
        dhcp,
        dns_neutron,
        gc,
        images,
        loadbalancers,
        ports,
        routers,
        scheduler,
    )

    return [_compaction_loop, _identity_watch, gc.run, scheduler.run, compute_usage.run,
            dhcp.run, ports.run, images.run, allocations.run, routers.run, _dns,
            loadbalancers.run, dns_neutron.run]


async def _dns(rt: Runtime) -> None:
    """The zone-transfer source and the zone status controller (``kumo.control.dns*``)."""
    from kumo.control import dns_run

    cfg = rt.config
    ctl = await dns_run.start(rt.objects, cfg.data_dir, cfg.dns_listen, cfg.dns_targets,
                              cfg.dns_error_after)
    rt.caches["dns"] = ctl
    rt.debug_providers["dns"] = ctl.debug_state
    try:
        await ctl.run()
    finally:
        ctl.source.close()


async def _local_dns_secondary(rt: Runtime, run_dir: Path) -> None:
    """`kumo up`: Knot on loopback as the secondary of the source, a target of its zones."""
    from kumo.agent import dns as agent_dns
    from kumo.control.dns import Target
    from kumo.drivers import knot

    if not rt.config.dns_secondary or not knot.available():
        log.info("no local DNS secondary (dns_secondary off or knotd missing)")
        return
    while "dns" not in rt.caches or rt.caches["dns"].source.address is None:
        await asyncio.sleep(0.05)
    ctl = rt.caches["dns"]
    sec = agent_dns.secondary(run_dir, ctl.source.address, ctl.key)
    ctl.targets.append(Target("knot", *sec.listen))
    try:
        await agent_dns.supervise(sec, die_with_parent=True)
    finally:
        await knot.stop(sec)


EAGER: tuple[BackgroundTask, ...] = (_compaction_loop, _identity_watch)  # token cache safety


async def _public_network(rt: Runtime) -> None:
    """``kumo up``'s external network ``public`` (touches nothing on the machine)."""
    from kumo.api.openstack.network.bootstrap import ensure_public

    await ensure_public(rt)


async def _local_agent(rt: Runtime, driver: str, net_driver: str = "auto") -> None:
    """The all-in-one host agent: the same code as a remote one, over loopback HTTP."""
    import socket

    from kumo.agent.main import run_agent
    from kumo.client import load_credentials

    creds = load_credentials(rt.config.data_dir / SERVICE_CREDENTIALS_FILE)
    creds["auth_url"] = f"http://{rt.config.listen}/v3"
    host = socket.gethostname().split(".")[0] or "kumo"
    await run_agent(creds, host, rt.config.data_dir / "agent" / host, driver=driver,
                    debug_providers=rt.debug_providers, net_driver=net_driver)


async def _import_tiny_image(rt: Runtime) -> None:
    """Build kumo-tiny if missing and publish it as a public image (first start)."""
    from kumo.api.openstack.image import app as glance
    from kumo.imagebuild import kumo_tiny

    try:
        tiny = await asyncio.to_thread(kumo_tiny.ensure_built)
        admin = await _admin_project_id(rt)
        kernel = await glance.import_image(
            rt, name="kumo-tiny-kernel", disk_format="aki", container_format="aki",
            path=tiny.kernel, owner=admin, properties={})
        ramdisk = await glance.import_image(
            rt, name="kumo-tiny-ramdisk", disk_format="ari", container_format="ari",
            path=tiny.ramdisk, owner=admin, properties={})
        await glance.import_image(
            rt, name="kumo-tiny", disk_format="qcow2", container_format="bare",
            path=tiny.qcow2, owner=admin, properties={
                "kernel_id": kernel["id"], "ramdisk_id": ramdisk["id"],
                "os_distro": "kumo-tiny", "hw_architecture": "x86_64"})
        log.info("image kumo-tiny is available")
    except Exception:
        log.exception("could not build or import the kumo-tiny image")


async def _admin_project_id(rt: Runtime) -> str:
    found = await rt.objects.list(idm.PROJECT, "", label_selector="name=admin")
    return found.items[0]["metadata"]["name"]


async def serve(config: Config, ready: Callable[[Runtime], None] | None = None, *,
                agent: str | None = None, tiny_image: bool = True,
                net_driver: str = "auto") -> None:
    """Run the API server and control loops until a signal stops uvicorn.

    ``agent`` names a compute driver to also run this host's agent in-process
    (``kumo up``); None runs the control plane only (``kumo api``).
    """
    from kumo.api.app import build_app

    rt = await open_runtime(config)
    tasks = [asyncio.create_task(t(rt), name=t.__name__) for t in EAGER]
    server = uvicorn.Server(http_config(build_app(rt), config, config.host, config.port))
    if config.metrics_listen:
        tasks.append(asyncio.create_task(_metrics_listener(rt), name="metrics_listener"))
    after: list[Awaitable[None]] = []
    if agent is not None:
        after.append(_local_agent(rt, agent, net_driver))
        after.append(_public_network(rt))
        after.append(_local_dns_secondary(rt, config.data_dir / "agent" / "dns"))
    if tiny_image:
        after.append(_import_tiny_image(rt))
    watcher = asyncio.create_task(_announce(server, rt, ready, after, tasks))
    try:
        await server.serve()
    finally:
        watcher.cancel()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, watcher, return_exceptions=True)
        await rt.objects.backend.close()
        log.info("stopped")


def http_config(app: ASGIApp, config: Config, host: str, port: int) -> uvicorn.Config:
    """uvicorn settings with kumo's connection limits (``kumo.api.limits``)."""
    protocol = limits.guarded_protocol(limits.Limits(
        max_header_bytes=config.max_header_bytes, header_timeout=config.header_timeout,
        body_timeout=config.body_timeout,
        max_connections_per_client=config.max_connections_per_client))
    return uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
        timeout_graceful_shutdown=3, http=protocol,
        limit_concurrency=config.max_connections or None)


async def _metrics_listener(rt: Runtime) -> None:
    """``/metrics`` without a token on its own address (``Config.metrics_listen``)."""
    from kumo.api.app import build_metrics_app

    listen = rt.config.metrics_listen or ""
    host, port = listen.rsplit(":", 1)
    server = uvicorn.Server(http_config(build_metrics_app(rt), rt.config, host, int(port)))
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    await server.serve()


async def _announce(server: uvicorn.Server, rt: Runtime,
                    ready: Callable[[Runtime], None] | None,
                    after_ready: list[Awaitable[None]], tasks: list[asyncio.Task[None]]) -> None:
    """Once uvicorn listens: the controllers start (their informers' first lists would
    otherwise hold up the listener: 10,000 objects cost a second of JSON decoding), then
    ``ready`` is announced. Caches that are not synced yet are not used (the usage cache
    falls back to a list), so serving before they are is safe."""
    while not server.started:
        await asyncio.sleep(0.01)
    tasks.extend(asyncio.create_task(t(rt), name=t.__name__) for t in background_tasks()
                 if t not in EAGER)
    if ready is not None:
        ready(rt)
    await asyncio.gather(*(_logged(a) for a in after_ready))


async def _logged(aw: Awaitable[None]) -> None:
    """Run a post-start task; a crash is logged, never silently dropped."""
    try:
        await aw
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task failed")
