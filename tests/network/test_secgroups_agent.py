"""The firewall agent end to end on one host in a namespace (real API, real agent with
the Linux network driver and nftables, fake compute): a rule made through the CLI is
in the host's tables within the time budget, tables damaged by hand are rebuilt, each
change is an Event, and the agent's metrics say programmed == desired."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pytest

from tests.e2e.vmhelpers import wait_for

from .secgroups_lab import need_root_nft

pytestmark = [pytest.mark.e2e]
TABLE = "kumo_sg"


def nft_json(mh: Any, *what: str) -> list[dict[str, Any]]:
    p = mh.exec_in(1, ["nft", "-j", "list", *what], check=False)
    if p.returncode != 0:
        return []
    return [o for o in json.loads(p.stdout)["nftables"] if "metainfo" not in o]


def chain_text(mh: Any, family: str, chain: str) -> str:
    p = mh.exec_in(1, ["nft", "list", "chain", family, TABLE, chain], check=False)
    return p.stdout if p.returncode == 0 else ""


def metric(mh: Any, name: str, **labels: str) -> float | None:
    scrape = ("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
              f"'http://{mh.underlay_ip(1)}:9774/metrics').read().decode())")
    for line in mh.exec_in(1, [sys.executable, "-c", scrape]).stdout.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_agent_programs_repairs_and_reports(multihost) -> None:
    need_root_nft()
    with multihost(1, driver="fake", net_driver="linux",
                   agent_args=("--resync-interval", "2")) as mh:
        os_ = mh.openstack
        net = os_("network", "create", "fw-net")["id"]
        os_("subnet", "create", "--network", net, "--subnet-range", "10.94.0.0/24", "fw-sub")
        web = os_("security", "group", "create", "fw-web")
        gid = web["id"]
        port = os_("port", "create", "--network", net, "--security-group", gid, "--host",
                   "host1", "fw-port")  # bound to the host as a server's port would be
        tap = "tap" + port["id"][:11]
        wait_for("the port's chains", lambda: f"jump ge-{gid}" in chain_text(
            mh, "inet", f"o-{tap}"), timeout=60)
        assert "ether saddr != " + port["mac_address"] in chain_text(mh, "bridge", f"o-{tap}")

        t0 = time.monotonic()
        os_("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "8080",
            gid)
        wait_for("the new rule in the group's chain", lambda: "dport 8080 accept" in
                 chain_text(mh, "inet", f"gi-{gid}"), timeout=10, interval=0.05)
        seen = time.monotonic() - t0
        assert seen < 5, seen  # CLI start, API, watch, one transaction

        mh.exec_in(1, ["nft", "delete", "element", "bridge", TABLE, "pout", f'{{ "{tap}" }}'])
        wait_for("map entry restored", lambda: any(
            o["map"]["name"] == "pout" and any(e[0] == tap for e in o["map"].get("elem", []))
            for o in nft_json(mh, "map", "bridge", TABLE, "pout") if "map" in o), timeout=20)
        mh.exec_in(1, ["nft", "flush", "chain", "inet", TABLE, f"gi-{gid}"])
        wait_for("flushed chain rebuilt", lambda: "dport 8080 accept" in chain_text(
            mh, "inet", f"gi-{gid}"), timeout=30)

        project = web["project_id"]
        reasons = {e["reason"] for e in mh.kumo_get("events", namespace=project)["items"]
                   if e.get("component") == "kumo-agent/firewall"}
        assert {"FirewallProgrammed", "FirewallRepaired"} <= reasons, reasons
        desired = metric(mh, "kumo_agent_firewall_rules", host="host1", state="desired")
        programmed = metric(mh, "kumo_agent_firewall_rules", host="host1", state="programmed")
        assert desired and desired == programmed
        assert metric(mh, "kumo_agent_firewall_repairs_total", host="host1") >= 2
        print(f"rule create (CLI) → in the host's chain: {seen:.2f} s")
