"""The ``kumo`` command: up, api, agent, get, trace, doctor."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from kumo.config import DEFAULT_LISTEN, Config, default_data_dir

DEFAULT_DATA_DIR = default_data_dir()

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="kumo: a private cloud in one Python package.")

DataDir = Annotated[Path, typer.Option("--data-dir", help="Where all state lives.")]
Listen = Annotated[str, typer.Option("--listen", help="HOST:PORT for every API.")]
Driver = Annotated[str, typer.Option("--driver", help="Compute driver: qemu, fake or auto.")]
NetDriver = Annotated[str, typer.Option(
    "--net-driver", help="Host networking: linux (bridges, VXLAN, dnsmasq), fake (in memory) "
    "or auto (linux beside QEMU, fake beside the fake compute driver).")]
Settings = Annotated[list[str] | None, typer.Option(
    "--set", help="NAME=VALUE for any Config setting (repeatable), e.g. header_timeout=5, "
    "max_connections_per_client=256, metrics_listen=127.0.0.1:9100.")]


def _run_api(data_dir: Path, listen: str, public_url: str | None, banner: str,
             agent: str | None = None, tiny_image: bool = False,
             net_driver: str = "auto", settings: list[str] | None = None) -> None:
    from kumo import server
    from kumo.observe import logging as klog

    klog.setup(os.environ.get("KUMO_LOG_LEVEL", "INFO"))
    t0 = time.perf_counter()
    cfg = Config(data_dir=data_dir.expanduser().resolve(), listen=listen, public_url=public_url)
    for assignment in settings or []:
        try:
            cfg.set(assignment)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--set") from exc

    def ready(rt: object) -> None:
        clouds = cfg.data_dir / "clouds.yaml"
        print(f"kumo {banner} ready at {cfg.base_url} in {time.perf_counter() - t0:.2f}s\n"
              f"  export OS_CLIENT_CONFIG_FILE={clouds}\n"
              f"  openstack --os-cloud kumo token issue", flush=True)

    try:
        asyncio.run(server.serve(cfg, ready, agent=agent, tiny_image=tiny_image,
                                 net_driver=net_driver))
    except KeyboardInterrupt:
        pass


@app.command()
def up(data_dir: DataDir = DEFAULT_DATA_DIR, listen: Listen = DEFAULT_LISTEN,
       public_url: Annotated[str | None, typer.Option(help="URL clients use.")] = None,
       driver: Driver = "auto", net_driver: NetDriver = "auto",
       image: Annotated[bool, typer.Option(help="Build and publish kumo-tiny.")] = True,
       settings: Settings = None) -> None:
    """Run the all-in-one cloud (API, controllers, local agent) with the embedded store."""
    _run_api(data_dir, listen, public_url, "all-in-one", agent=driver, tiny_image=image,
             net_driver=net_driver, settings=settings)


@app.command()
def api(data_dir: DataDir = DEFAULT_DATA_DIR, listen: Listen = DEFAULT_LISTEN,
        public_url: Annotated[str | None, typer.Option(help="URL clients use.")] = None,
        settings: Settings = None) -> None:
    """Run the API server and controllers only (agents run elsewhere)."""
    _run_api(data_dir, listen, public_url, "api", settings=settings)


@app.command()
def agent(host: Annotated[str, typer.Option("--host", help="This hypervisor's name.")],
          api_url: Annotated[str, typer.Option("--api", help="API server URL.")],
          credentials: Annotated[Path, typer.Option(
              "--credentials", help="service-credentials.yaml written by `kumo api`.")],
          underlay_ip: Annotated[str | None, typer.Option("--underlay-ip")] = None,
          driver: Driver = "auto", net_driver: NetDriver = "auto",
          state_dir: Annotated[Path | None, typer.Option("--state-dir")] = None,
          resync_interval: Annotated[float, typer.Option(
              help="Seconds between full overlay resyncs.")] = 15.0,
          vif_plug_timeout: Annotated[float, typer.Option(
              help="Seconds a build waits for its ports to be plugged.")] = 10.0,
          listen: Annotated[str | None, typer.Option(
              help="HOST:PORT for this agent's /metrics and /debug/state (no auth); "
              "off unless given.")] = None) -> None:
    """Run one host's agent against a remote API server."""
    from kumo.agent.main import run_agent
    from kumo.client import load_credentials
    from kumo.observe import logging as klog

    klog.setup(os.environ.get("KUMO_LOG_LEVEL", "INFO"))
    creds = load_credentials(credentials)
    creds["auth_url"] = api_url.rstrip("/") + "/v3"
    sdir = state_dir or default_data_dir() / "agent" / host
    try:
        asyncio.run(run_agent(creds, host, sdir, driver=driver, vtep_ip=underlay_ip,
                              net_driver=net_driver, listen=listen or None,
                              net_options={"resync_interval": resync_interval,
                                           "vif_plug_timeout": vif_plug_timeout}))
    except KeyboardInterrupt:
        pass


@app.command()
def get(plural: str, name: Annotated[str | None, typer.Argument()] = None,
        namespace: Annotated[str | None, typer.Option("-n", "--namespace")] = None,
        cloud: Annotated[str, typer.Option("--os-cloud")] = "kumo") -> None:
    """Read native resources (admin): ``kumo get hosts``, ``kumo get events -n PROJECT``."""
    from kumo.client import cloud as client

    with client.Client.from_cloud(cloud) as c:
        out = c.get(plural, name, namespace)
    json.dump(out, sys.stdout, indent=2)
    print()


Cloud = Annotated[str | None, typer.Option(
    "--os-cloud", help="Cloud in clouds.yaml (default $OS_CLOUD, else kumo).")]
Output = Annotated[str, typer.Option("-o", "--output", help="text or json")]


def _client(cloud: str | None) -> object:
    from kumo.client import cloud as client

    return client.Client.from_cloud(cloud or os.environ.get("OS_CLOUD") or "kumo")


@app.command()
def trace(target: Annotated[str, typer.Argument(help="KIND/ID, e.g. servers/<id>, ports/<id>")],
          namespace: Annotated[str | None, typer.Option("-n", "--namespace")] = None,
          output: Output = "text", cloud: Cloud = None) -> None:
    """Every step every component took for one object, and who waits on whom now."""
    from kumo.doctor import render

    kind, _, oid = target.partition("/")
    plural = kind.lower() if kind.lower().endswith("s") else kind.lower() + "s"
    with _client(cloud) as c:  # type: ignore[attr-defined]
        tr = c.call(f"/diagnose/v1/trace/{plural}/{oid}",
                    {"namespace": namespace} if namespace else None)
    print(json.dumps(tr, indent=2) if output == "json" else render.trace_text(tr).rstrip())


@app.command()
def doctor(scope: Annotated[str | None, typer.Option(
               "--scope", help="project:ID, host:NAME or KIND/ID; the whole cloud if absent")
           ] = None,
           output: Output = "text", cloud: Cloud = None,
           watch: Annotated[float, typer.Option(
               "--watch", help="Re-run every N seconds (0: once).")] = 0.0,
           settings: Annotated[list[str] | None, typer.Option(
               "--set", help="KEY=VALUE threshold, e.g. stuck-build.seconds=60 (repeatable)")
           ] = None) -> None:
    """Check the cloud's invariants; each finding from symptom to root cause. Exit 0 when
    healthy, 1 with findings."""
    from kumo.doctor import render

    with _client(cloud) as c:  # type: ignore[attr-defined]
        while True:
            params = {"scope": scope} if scope else {}
            report = c.call("/diagnose/v1/doctor", {**params, "set": settings or []})
            print(json.dumps(report, indent=2) if output == "json"
                  else render.doctor_text(report), flush=True)
            if not watch:
                break
            time.sleep(watch)
    raise typer.Exit(0 if report["healthy"] else 1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
