"""A live cloud for the load-balancer tests: `kumo up` (fake VMs, Linux networking) inside
a namespace this module creates, plus backend and client namespaces plugged by hand into
the tenant bridge (veth, the Neutron port's MAC and address). Everything it makes is
deleted at the end; no packet leaves these namespaces."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.conftest import LiveCloud
from tests.multihost import delete_netns, netns_list
from tests.nscloud import namespaced_cloud

from . import backends


@dataclass
class Guest:
    """A namespace on the tenant network standing in for a VM."""

    ns: str
    ip: str
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class LbWorld:
    cloud: LiveCloud
    tag: str
    guests: list[Guest] = field(default_factory=list)

    def plug(self, port: dict, vni: int, prefix: int) -> Guest:
        n = len(self.guests)
        ns, host_if = f"kt-lbg-{self.tag}-{n}", f"klg{self.tag}{n}"
        ip = port["fixed_ips"][0]["ip_address"]
        subprocess.run(["ip", "netns", "add", ns], check=True)
        run = [*self.cloud.ns_prefix(), "ip"]
        subprocess.run([*run, "link", "add", host_if, "type", "veth", "peer", "name", "eth0",
                        "netns", ns], check=True)
        subprocess.run([*run, "link", "set", host_if, "master", f"kbr-{vni}", "up"], check=True)
        for argv in (["link", "set", "lo", "up"],
                     ["link", "set", "eth0", "address", port["mac_address"], "up"],
                     ["addr", "add", f"{ip}/{prefix}", "dev", "eth0"]):
            subprocess.run(["ip", "-n", ns, *argv], check=True)
        guest = Guest(ns, ip)
        self.guests.append(guest)
        return guest

    def serve(self, guest: Guest, name: str) -> None:
        guest.proc = backends.start_backend(guest.ns, guest.ip, 8080, name)

    def stop_serving(self, guest: Guest) -> None:
        if guest.proc is not None:
            guest.proc.kill()
            guest.proc.wait()
            guest.proc = None


def lb_world() -> Iterator[LbWorld]:
    tag = secrets.token_hex(2)
    with namespaced_cloud(f"kt-lb-{tag}",
                          ["--driver", "fake", "--net-driver", "linux", "--no-image"],
                          "kumo-lb-") as c:
        world = LbWorld(c, tag)
        try:
            yield world
        finally:
            for g in world.guests:
                world.stop_serving(g)
            for name in netns_list():
                if name.startswith(f"kt-lbg-{tag}-"):
                    delete_netns(name)
