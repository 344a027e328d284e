"""Routers and floating IPs with real guests on three hosts.

The external network's far side is a namespace of the test (``kxout-<suffix>``) joined
to the external network's bridge on the router's host, with 198.19.64.1/24: it plays
the upstream gateway and the outside world. Every address lives inside the harness's
namespaces (tests/multihost.py); nothing touches the machine's own interfaces.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .vmhelpers import need_qemu, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
OUTSIDE = "198.19.64.1"
WHOAMI = """
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.client_address[0].encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""
READER = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=10)
s.sendall(b"GET /big HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192); s.settimeout(0.2)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        if not s.recv(2048): break
        print(time.time(), flush=True); time.sleep(0.02)
    except socket.timeout:
        pass
    except OSError as exc:
        print("reader:", repr(exc), file=sys.stderr)
        break
"""


UNSET = """
import json, sys, time, urllib.request
url = f"{sys.argv[1]}/network/v2.0/floatingips/{sys.argv[2]}"
req = urllib.request.Request(url, method="PUT", data=json.dumps(
    {"floatingip": {"port_id": None}}).encode(), headers={
    "X-Auth-Token": sys.argv[3], "Content-Type": "application/json"})
t0 = time.time()
urllib.request.urlopen(req, timeout=30).read()
print(t0, time.time() - t0)
"""


def probe_script(targets: dict[str, str], big: bool = False) -> str:
    """Fetch each target every second forever; GOT <tag> <answer> or MISS <tag>."""
    lines = ["#!/bin/sh"]
    if big:
        lines.append("dd if=/dev/zero of=/var/www/big bs=1024 count=16384 2>/dev/null")
    loop = "".join(f"   if out=$(timeout 3 wget -q -O - {url}); then echo GOT {tag} $out;"
                   f" else echo MISS {tag}; fi\n" for tag, url in targets.items())
    lines.append(f"(while true; do\n{loop}   sleep 1; done) &")
    return "\n".join(lines) + "\n"


def console(mh: Any, sid: str) -> str:
    return mh.openstack("console", "log", "show", sid, json_out=False, check=False).stdout


def outside_ns(mh: Any, host: int, ext_vni: int) -> str:
    """The external network's far side, on the bridge of the router's host."""
    ns = mh.add_namespace("out")
    hns = mh.host_ns(host)
    wait_for("external bridge on the router's host", lambda: mh.exec_in(
        host, ["ip", "link", "show", f"kbr-{ext_vni}"], check=False).returncode == 0,
        timeout=60)
    subprocess.run(["ip", "-n", hns, "link", "add", "vxout", "type", "veth", "peer", "name",
                    "eth0", "netns", ns], check=True)
    subprocess.run(["ip", "-n", hns, "link", "set", "vxout", "master", f"kbr-{ext_vni}", "up"],
                   check=True)
    subprocess.run(["ip", "-n", ns, "addr", "add", f"{OUTSIDE}/24", "dev", "eth0"], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "up"], check=True)
    return ns


def fetch(mh: Any, ns: str, ip: str) -> str:
    p = mh.exec_in(ns, ["python3", "-c", "import sys, urllib.request; print(urllib.request."
                        "urlopen(f'http://{sys.argv[1]}/', timeout=2).read().decode())", ip],
                   check=False, timeout=10)
    return p.stdout.strip() if p.returncode == 0 else ""


def test_router_snat_fip_hairpin_and_cut(multihost, tmp_path: Path) -> None:  # noqa: PLR0915
    need_qemu()
    with multihost(3, driver="qemu", agent_args=("--resync-interval", "5")) as mh:
        os_ = mh.openstack
        mh.import_kumo_tiny()
        ext = os_("network", "create", "--external", "ext-net")
        os_("subnet", "create", "--network", ext["id"], "--subnet-range", "198.19.64.0/24",
            "--gateway", OUTSIDE, "--no-dhcp", "ext-sub")
        net_a = os_("network", "create", "net-a")
        sub_a = os_("subnet", "create", "--network", net_a["id"], "--subnet-range",
                    "10.31.0.0/24", "sub-a")
        net_b = os_("network", "create", "net-b")
        sub_b = os_("subnet", "create", "--network", net_b["id"], "--subnet-range",
                    "10.32.0.0/24", "sub-b")
        router = os_("router", "create", "r1")
        rid = router["id"]
        os_("router", "set", "--external-gateway", ext["id"], rid, json_out=False)
        os_("router", "add", "subnet", rid, sub_a["id"], json_out=False)
        gw_ip = os_("router", "show", rid)["external_gateway_info"]["external_fixed_ips"][0][
            "ip_address"]
        fip = os_("floating", "ip", "create", ext["id"])
        fip_ip = fip["floating_ip_address"]
        project = router["project_id"]
        bound = wait_for("router bound", lambda: mh.kumo_get("routers", rid, project)[
            "spec"].get("host"), timeout=30)
        rhost = int(bound.removeprefix("host"))
        out = outside_ns(mh, rhost, int(ext["provider:segmentation_id"]))
        server = subprocess.Popen(["ip", "netns", "exec", out, "python3", "-c", WHOAMI])
        try:
            ports = {
                "a1": os_("port", "create", "--network", net_a["id"], "--fixed-ip",
                          f"subnet={sub_a['id']},ip-address=10.31.0.11", "p-a1"),
                "a2": os_("port", "create", "--network", net_a["id"], "--fixed-ip",
                          f"subnet={sub_a['id']},ip-address=10.31.0.12", "p-a2"),
                "b1": os_("port", "create", "--network", net_b["id"], "--fixed-ip",
                          f"subnet={sub_b['id']},ip-address=10.32.0.11", "p-b1"),
            }
            # Security groups are enforced: the default group admits only its members, so
            # (as in Neutron) HTTP from the outside and through the hairpin needs a rule.
            os_("security", "group", "rule", "create", "--ingress", "--protocol", "tcp",
                "--dst-port", "80", "--remote-ip", "0.0.0.0/0",
                ports["a1"]["security_group_ids"][0])
            scripts = {"a1": probe_script({"b": "http://10.32.0.11/",
                                           "ext": f"http://{OUTSIDE}:8080/"}, big=True),
                       "a2": probe_script({"hairpin": f"http://{fip_ip}/"}),
                       "b1": probe_script({})}
            hosts = {"a1": 2, "a2": 3, "b1": 3}
            servers = {}
            for name in ("a1", "a2", "b1"):
                ud = tmp_path / f"{name}.sh"
                ud.write_text(scripts[name])
                servers[name] = os_("server", "create", "--image", "kumo-tiny", "--flavor",
                                    "m1.nano", "--nic", f"port-id={ports[name]['id']}",
                                    "--user-data", str(ud), "--availability-zone",
                                    f"nova:host{hosts[name]}", name)
            for name, s in servers.items():
                shown = wait_for(f"{name} active", lambda s=s: (
                    x := os_("server", "show", s["id"]))["status"] in ("ACTIVE", "ERROR") and x,
                    timeout=180)
                assert shown["status"] == "ACTIVE", shown.get("fault")
            a1 = servers["a1"]["id"]

            # SNAT: a1 (no floating IP) reaches the outside as the router's gateway address
            log = wait_for("a1 reached the outside", lambda: (
                c := console(mh, a1)) and "GOT ext" in c and c, timeout=300)
            assert re.search(rf"GOT ext {re.escape(gw_ip)}\b", log), log[-2000:]
            # net B is not attached: a1 cannot reach b1 ...
            assert "MISS b" in log and "GOT b" not in log
            # ... until the router has an interface there
            os_("router", "add", "subnet", rid, sub_b["id"], json_out=False)
            wait_for("a1 reaches b1 through the router", lambda: "GOT b kumo-tiny b1" in
                     console(mh, a1), timeout=120)

            # FIP: associate, and the outside reaches a1 by it
            t0 = time.monotonic()
            os_("floating", "ip", "set", "--port", ports["a1"]["id"], fip["id"],
                json_out=False)
            wait_for("outside reaches a1's FIP", lambda: fetch(mh, out, fip_ip) ==
                     "kumo-tiny a1", timeout=60, interval=0.1)
            print(f"FIP associate -> reachable: {time.monotonic() - t0:.2f} s")
            assert wait_for("FIP ACTIVE", lambda: os_("floating", "ip", "show", fip["id"])[
                "status"] == "ACTIVE", timeout=30)
            wait_for("a1 leaves as its FIP", lambda: re.search(
                rf"GOT ext {re.escape(fip_ip)}\b", console(mh, a1)), timeout=60)
            # hairpin: a2, behind the same router, reaches a1 by its floating IP
            wait_for("hairpin", lambda: "GOT hairpin kumo-tiny a1" in console(
                mh, servers["a2"]["id"]), timeout=120)

            # a running TCP stream through the FIP stops within 2 s of disassociation
            reader = subprocess.Popen(["ip", "netns", "exec", out, "python3", "-c", READER,
                                       fip_ip, "30"], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
            token = os_("token", "issue")["id"]
            time.sleep(3)
            # the disassociation itself (PUT port_id null), timed from the request; the
            # CLI's own start-up (~1 s on a loaded machine) is not the cloud's
            cut = float(mh.exec_in("api", [sys.executable, "-c", UNSET, mh.api_url, fip["id"],
                                           token]).stdout.split()[0])
            text, err = reader.communicate(timeout=60)
            stamps = [float(x) for x in text.split()]
            assert stamps and stamps[0] < cut, f"the stream never ran: {err[-2000:]}"
            print(f"last byte {stamps[-1] - cut:.2f} s after the disassociation call")
            assert stamps[-1] - cut < 2.0
            assert fetch(mh, out, fip_ip) == ""
        finally:
            server.kill()
            server.wait()
