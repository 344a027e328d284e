"""Two "hosts" (namespaces on a bridge in a switch namespace, all created and deleted
here) each running keepalived (kumo.drivers.keepalived) and a server on :80 standing in
for HAProxy, a client probing the VIP; ``failover`` kills the active side (keepalived
SIGKILLed and its uplink down, as a dead host) and measures how long the VIP was dark."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from kumo.drivers.keepalived import Keepalived, VrrpPlan

from . import backends

PROBE = r"""
import http.client, json, sys, time
host, seconds = sys.argv[1], float(sys.argv[2])
out, end = [], time.monotonic() + seconds
while time.monotonic() < end:
    t = time.monotonic()
    try:
        c = http.client.HTTPConnection(host, 80, timeout=0.2)
        c.request("GET", "/")
        out.append((t, c.getresponse().read().decode()))
        c.close()
    except OSError:
        out.append((t, None))
    time.sleep(0.01)
print(json.dumps(out))
"""
IPS = {"a": "10.63.0.11", "b": "10.63.0.12", "c": "10.63.0.100"}
VIP = "10.63.0.50"


def _ip(ns: str, *argv: str) -> None:
    subprocess.run(["ip", "-n", ns, *argv], check=True, capture_output=True)


def failover(advert_ms: int = 200) -> dict[str, Any]:
    tag = secrets.token_hex(2)
    names = {k: f"kt-ka-{tag}-{k}" for k in ("sw", "a", "b", "c")}
    lb_id = str(uuid.uuid4())
    procs: list[subprocess.Popen[bytes]] = []
    kas: dict[str, Keepalived] = {}
    try:
        for ns in names.values():
            subprocess.run(["ip", "netns", "add", ns], check=True)
            _ip(ns, "link", "set", "lo", "up")
        _ip(names["sw"], "link", "add", "br0", "type", "bridge")
        _ip(names["sw"], "link", "set", "br0", "up")
        for k in ("a", "b", "c"):
            _ip(names["sw"], "link", "add", f"v{k}", "type", "veth", "peer", "name", "eth0",
                "netns", names[k])
            _ip(names["sw"], "link", "set", f"v{k}", "master", "br0", "up")
            _ip(names[k], "addr", "add", f"{IPS[k]}/24", "dev", "eth0")
            _ip(names[k], "link", "set", "eth0", "up")
        for k, peer, prio in (("a", "b", 100), ("b", "a", 90)):
            kas[k] = Keepalived(Path(tempfile.mkdtemp(prefix=f"kumo-ka-{k}-")))
            kas[k].start(VrrpPlan(lb_id, names[k], "eth0", f"{VIP}/24", IPS[k], IPS[peer],
                                  prio, advert_ms))
            procs.append(backends.start_backend(names[k], "0.0.0.0", 80, k.upper()))
        deadline = time.monotonic() + 15
        while backends.get(names["c"], f"http://{VIP}/", timeout=0.5) != "A":
            if time.monotonic() > deadline:
                raise TimeoutError("the VIP never answered from the active side")
            time.sleep(0.1)
        probe = subprocess.Popen(["ip", "netns", "exec", names["c"], sys.executable, "-c",
                                  PROBE, VIP, "6"], stdout=subprocess.PIPE)
        time.sleep(1.5)
        t_kill = time.monotonic()  # the uplink first: no farewell advert gets out
        _ip(names["a"], "link", "set", "eth0", "down")
        kas["a"].stop(lb_id, signal.SIGKILL)
        rows = json.loads(probe.communicate(timeout=30)[0])
        return _measure(rows, t_kill)
    finally:
        for ka in kas.values():
            ka.stop(lb_id, signal.SIGKILL)
        for p in procs:
            p.kill()
            p.wait()
        for ns in names.values():
            backends.delete_ns(ns)
        for ka in kas.values():
            shutil.rmtree(ka.root, ignore_errors=True)


def _measure(rows: list[tuple[float, str | None]], t_kill: float) -> dict[str, Any]:
    before = [r for r in rows if r[0] < t_kill]
    after = [r for r in rows if r[0] >= t_kill]
    first_b = next(t for t, body in after if body == "B")
    failed = [t for t, body in after if body is None and t < first_b]
    last_fail = max(failed) if failed else t_kill
    return {"served_before_kill": sum(1 for _, b in before if b == "A"),
            "failed_before_kill": sum(1 for _, b in before if b is None),
            "kill_to_first_served_s": round(first_b - t_kill, 3),
            "last_failed_to_first_served_s": round(first_b - last_fail, 3),
            "failed_during_failover": len(failed),
            "failed_after_takeover": sum(1 for t, b in after if t > first_b and b is None),
            "served_by_standby": sum(1 for _, b in after if b == "B")}
